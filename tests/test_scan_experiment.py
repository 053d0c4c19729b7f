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
    (dict(jump=0.2), 2),                         # I_JUMP loses the most, but far less than "almost half"
    (dict(jump=0.8), 2),                         # ... or far more
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


# The paper's Fig. 4 (Sec. 4) and Fig. 15 (App. C.7.1), 10 seeds (footnote 3). Fig. 4b's I_JUMP bar is
# printed in words: "Almost half of the weights corresponding to 'I_JUMP' are removed". Fig. 4a and 15 print
# no numbers and paper.md holds only their captions: the accuracies below are NOT measured off the bars but
# what the text states: the full-problem masks solve every split (they were trained on all commands, and the
# IID weights "are capable of solving the full problem"), the split masks keep the IID split but show "the
# large generalization gap" on the systematic ones, and "the remaining weights still have significantly
# better performance than training the network solely on the training set of the given split" (App. C.7.1).
# Training directly on a split (Fig. 15's "standard setup") is Lake & Baroni's (2018) printed result for
# this LSTM: 99.7% simple, 13.8% length, 0.08% add jump, 90.3% add turn left (filled in for both networks;
# no verdict reads it).
PAPER_SPLIT_MASK = {"LSTM": {"simple": 1.0, "length": 0.20, "addprim_jump": 0.10, "addprim_turn_left": 0.95},
                    "Transformer": {"simple": 1.0, "length": 0.15, "addprim_jump": 0.05, "addprim_turn_left": 0.92}}
LAKE_BARONI = {"simple": 0.997, "length": 0.138, "addprim_jump": 0.0008, "addprim_turn_left": 0.903}
PAPER_JUMP = 0.45    # Fig. 4b, Sec. 4: "almost half"
PAPER_OTHERS = 0.10  # Fig. 4b: the other tokens lose far less (the figure prints no number for them)


def _paper(split_mask=PAPER_SPLIT_MASK, jump=PAPER_JUMP, others=PAPER_OTHERS, full=1.0):
    acc, removed = [], []
    for seed in range(10):
        for net in ("LSTM", "Transformer"):
            for split in SPLITS:
                row = {"net": net, "seed": seed, "split": split}
                acc += [{**row, "setting": "unmasked", "accuracy": 1.0},
                        {**row, "setting": scan.FULL, "accuracy": full},
                        {**row, "setting": "split mask", "accuracy": split_mask[net][split]},
                        {**row, "setting": "trained on split", "accuracy": LAKE_BARONI[split]}]
        removed += [{"net": "LSTM", "seed": seed, "token": t, "kept": 50,
                     "removed": jump if t == "I_JUMP" else others} for t in TOKENS]
    data = [{"split": s, "train": 1, "test": 1, "evaluated": 1} for s in SPLITS]
    return scan.verdicts({"accuracy": pd.DataFrame(acc), "removed": pd.DataFrame(removed),
                          "density": pd.DataFrame(columns=["net", "seed", "mask", "density"]),
                          "data": pd.DataFrame(data)})


@pytest.mark.parametrize("jump", [PAPER_JUMP, 0.40, 0.50])  # "almost half", read as 40-50%
def test_the_papers_figure_4_is_reproduced(jump):
    v = _paper(jump=jump)
    assert v["verdict"].tolist() == ["reproduced"] * 3, v[["this run", "why"]].to_dict("records")
    assert v.iloc[2]["this run"].startswith(f"I_JUMP loses {jump:.0%}")


def test_a_contrary_figure_4_is_not_reproduced():
    """The split masks keep the full-problem masks' accuracy on every split, and the add-jump mask removes
    about as much of every token's output weights as of I_JUMP's."""
    keep = {net: dict.fromkeys(SPLITS, 0.97) for net in scan.NETS}
    assert _paper(split_mask=keep, jump=0.12, others=0.15)["verdict"].tolist() == ["not reproduced"] * 3


@pytest.mark.parametrize("kw,failing", [
    (dict(full=0.7), 0),                    # the frozen networks do not solve the full problem
    (dict(jump=0.15, others=0.05), 2),      # I_JUMP loses the most, but nowhere near half
])
def test_each_figure_of_the_paper_is_judged(kw, failing):
    verdicts = _paper(**kw)["verdict"].tolist()
    assert verdicts[failing] == "not reproduced" and verdicts[2 - failing] == "reproduced", verdicts


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
