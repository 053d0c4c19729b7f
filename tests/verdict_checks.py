"""Shared check for the chapters' verdict tests."""


def only_claim_fails(verdicts: list[str], failing: int) -> None:
    """Claim ``failing`` is not reproduced and every other claim is."""
    assert verdicts[failing] == "not reproduced", verdicts
    assert all(v == "reproduced" for i, v in enumerate(verdicts) if i != failing), verdicts
