"""The SCAN chapter: gaps and verdicts from the tables, both ways; the whole run at smoke."""
import pandas as pd
import pytest

from weightmask import profiles
from weightmask.experiments import scan
from weightmask.store import RunStore
from weightmask.tasks.scan import SPLITS

from verdict_checks import only_claim_fails

TOKENS = ("<eos>", "I_JUMP", "I_LOOK", "I_RUN", "I_TURN_LEFT", "I_TURN_RIGHT", "I_WALK")


def _results(full=0.98, own=None, learned=0.99, jump=0.45, nets=("LSTM", "Transformer")):
    """Full-problem masks at ``full`` everywhere; split masks at ``learned`` on simple and at
    ``own[net]`` on the systematic splits; the add-jump mask removes ``jump`` of I_JUMP's weights."""
    own = own or {"LSTM": 0.4, "Transformer": 0.5}
    acc = []
    for net in nets:
        for split in SPLITS:
            simple = split == "simple"
            for setting, a in (("unmasked", learned if simple else 0.8), (scan.FULL, full),
                               ("split mask", learned if simple else own[net]),
                               ("trained on split", learned if simple else 0.1)):
                acc.append({"net": net, "seed": 0, "split": split, "setting": setting, "accuracy": a})
    removed = [{"net": "LSTM", "seed": 0, "token": t, "kept": 50, "removed": jump if t == "I_JUMP" else 0.1}
               for t in TOKENS] if "LSTM" in nets else []
    return {"accuracy": pd.DataFrame(acc), "removed": pd.DataFrame(removed, columns=["net", "seed", "token",
                                                                                    "kept", "removed"])}


def _verdicts(**kw):
    return scan.verdicts(_results(**kw))["verdict"].tolist()


def test_gaps_are_read_off_the_table():
    g = scan.gaps(_results()).set_index(["net", "split"])
    assert g.loc[("LSTM", "length"), "gap"] == pytest.approx(0.58)
    assert g.loc[("Transformer", "simple"), "gap"] == pytest.approx(-0.01)


def test_all_claims_reproduced_on_paper_like_tables():
    assert _verdicts() == ["reproduced"] * 3


@pytest.mark.parametrize("kw,failing", [
    (dict(full=0.8, own={"LSTM": 0.3, "Transformer": 0.3}), 0),      # the frozen networks do not solve it
    (dict(own={"LSTM": 0.4, "Transformer": 0.85}), 1),               # the Transformer keeps its accuracy
    (dict(jump=0.05), 2),                                            # another token loses more
])
def test_each_claim_can_fail(kw, failing):
    only_claim_fails(_verdicts(**kw), failing)


def test_one_network_only_and_unlearned_networks():
    assert _verdicts(nets=("LSTM",))[1] == "not comparable"
    assert _verdicts(nets=("Transformer",))[2] == "not comparable"
    assert _verdicts(learned=0.5) == ["not comparable"] * 3
    one = _results()
    a = one["accuracy"]
    a.loc[(a["net"] == "Transformer") & (a["setting"] == "unmasked") & (a["split"] == "simple"), "accuracy"] = 0.5
    assert scan.verdicts(one)["verdict"].tolist() == ["not comparable"] * 2 + ["reproduced"]  # jump: the LSTM's


def test_bars_are_labelled_in_the_papers_colour_order():
    labels = scan.bars(_results(), [scan.FULL, "split mask"])["mask"].unique().tolist()
    assert labels == ["LSTM, mask on the full problem", "Transformer, mask on the full problem",
                      "LSTM, mask on the split", "Transformer, mask on the split"]


def test_smoke_run_fills_every_table_and_reruns_from_the_store(tmp_path):
    config = profiles.resolve("scan", "smoke")
    store = RunStore(tmp_path)
    results = scan.run(config, store=store, device="cpu")
    acc = results["accuracy"]
    assert set(acc["split"]) == set(SPLITS) and set(acc["net"]) == set(config["nets"])
    direct = acc[acc["setting"] == "trained on split"]
    assert set(direct["net"]) == set(config["direct"]) and set(direct["split"]) == set(config["direct_splits"])
    assert results["removed"]["token"].tolist() == list(TOKENS)
    assert (results["data"]["evaluated"] == config["n_test"]).all()
    assert len(scan.verdicts(results)) == 3
    text = scan.describe(config, results, "smoke")
    assert all(f"**{n}**" in text for n in config["nets"])
    lstm_only = scan.describe({**config, "nets": ["LSTM"]}, results, "smoke")
    assert "**LSTM**" in lstm_only and "**Transformer**" not in lstm_only
    again = scan.run(config, store=store, device="cpu")
    pd.testing.assert_frame_equal(again["accuracy"], acc)


def test_unknown_net_is_named():
    with pytest.raises(ValueError, match="net must be one of"):
        scan.build("GRU", profiles.resolve("scan", "smoke"))
