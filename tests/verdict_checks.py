"""Shared check for the chapters' verdict tests."""


def only_claim_fails(verdicts: list[str], failing: int) -> None:
    """Claim ``failing`` is not reproduced and every other claim is."""
    assert verdicts[failing] == "not reproduced", verdicts
    assert all(v == "reproduced" for i, v in enumerate(verdicts) if i != failing), verdicts


def every_claim(chapter, results: dict, verdict: str):
    """The chapter's verdict table on ``results``, after asserting that every claim got ``verdict``."""
    table = chapter.verdicts(results)
    assert len(table) == len(chapter.CLAIMS) and (table["verdict"] == verdict).all(), \
        table[["claim", "verdict", "this run", "why"]]
    return table
