"""The add/mul chapter's rules judged by the paper's own numbers: they pass every rule, and a
contrary set fails every one; a figure whose interval straddles its rule's bound is inconclusive.

Sec. 3.1 prints the 3.8x of Fig. 12 and App. C.4 prints Table 2; Fig. 1 and 13 print no values,
so their bars stand where the paper's text puts them (named at each), and only their order
carries meaning. Two seeds, each at the paper's figure: no spread, so every verdict is decisive.
"""
import pandas as pd

from weightmask import paper
from weightmask.experiments import addmul

from verdict_checks import every_claim

LAYERS = {"FNN": 5, "LSTM": 3}  # App. C.4: FNN 42-2000x4-20; LSTM input, recurrent and output weights
SEEDS = (0, 1)
FNN_RATIO = 3.8  # Sec. 3.1: "the multiplication uses 3.8 times more weights than the addition (Fig. 12)"


def _results(ends=0.6, hidden=0.2, ratio=FNN_RATIO, fnn_follows=0.9, lstm_none=0.8, table2=paper.ADDMUL_TABLE2):
    sharing, counts, accuracy, performed = [], [], [], []
    for net, layers in LAYERS.items():
        for seed in SEEDS:
            for op in addmul.OPS:
                for layer in range(1, layers + 1):
                    # Fig. 1: "more sharing in the input and output layers and less in the hidden layers"
                    shared = ends if layer in (1, layers) else hidden
                    # Fig. 12: per layer, mul keeps `ratio` times the weights add keeps (the paper
                    # prints the FNN's total; the LSTM's, not printed and not judged, is set alike)
                    kept = 10_000 * (ratio if op == "mul" else 1.0)
                    tag = {"net": net, "seed": seed, "layer": layer, "name": f"w{layer}", "op": op}
                    sharing.append({**tag, "shared": shared, "kept": kept})
                    counts.append({**tag, "kept": kept, "total": 4_000_000})
            # Table 2 (App. C.4), accuracy [%] per tested op under each mask; unmasked: the network
            # is frozen "once the performance is nearly perfect" (Sec. 3.1), as the "Full" column
            for mask in ("none",) + addmul.TABLE2_MASKS:
                for op in addmul.OPS:
                    acc = table2.loc[(net, op), "full" if mask == "none" else mask] / 100
                    accuracy.append({"net": net, "seed": seed, "mask": mask, "op": op, "accuracy": acc})
            # Fig. 13 (App. C.4): under one op's mask "the FNN ignores the operator specification and
            # performs the one corresponding to the mask; in contrast, the LSTM tends to perform
            # invalid operations"
            for mask, other in addmul.PAIRS:
                for selector in addmul.OPS:
                    if selector == mask:
                        own, none = 1.0, 0.0
                    elif net == "FNN":
                        own, none = fnn_follows, 1 - fnn_follows
                    else:
                        own, none = 1 - lstm_none, lstm_none
                    performed += [{"net": net, "seed": seed, "mask": mask, "selector": selector,
                                   "performed": p, "fraction": f}
                                  for p, f in ((mask, own), (other, 0.0), ("none", none))]
    return {"sharing": pd.DataFrame(sharing), "counts": pd.DataFrame(counts),
            "accuracy": pd.DataFrame(accuracy), "performed": pd.DataFrame(performed)}


def test_the_papers_numbers_pass_every_rule():
    v = every_claim(addmul, _results(), "reproduced")
    assert "FNN: mul / add = 3.8x" in v["this run"].iloc[1]


def test_contrary_numbers_fail_every_rule():
    # inverted masks that work: each keeps the other operation at Table 1's double-addition level (92-99%)
    separate = paper.ADDMUL_TABLE2.copy()
    separate.loc[(slice(None), "mul"), "¬add"] = 95
    separate.loc[(slice(None), "add"), "¬mul"] = 92
    results = _results(ends=0.2, hidden=0.4,  # hidden layers share more than the ends
                       ratio=2.0,            # mul twice add: the old rule's "several times"
                       fnn_follows=0.3,      # the FNN mostly follows the selector
                       lstm_none=0.3,        # the LSTM mostly answers validly
                       table2=separate)
    every_claim(addmul, results, "not reproduced")


def test_the_ratio_is_judged_within_a_factor_of_its_tolerance_both_ways():
    assert addmul.MUL_RATIO == FNN_RATIO
    low, high = FNN_RATIO / addmul.RATIO_TOLERANCE, FNN_RATIO * addmul.RATIO_TOLERANCE
    for ratio, verdict in ((low * 1.01, "reproduced"), (high * 0.99, "reproduced"),
                           (low * 0.99, "not reproduced"), (high * 1.01, "not reproduced")):
        assert addmul.verdicts(_results(ratio=ratio))["verdict"].iloc[1] == verdict, ratio


def _claim(table, claim_id):
    return table.set_index(pd.Index([c.id for c in addmul.CLAIMS]))["verdict"][claim_id]


def test_the_inverted_masks_are_judged_by_their_mean_against_nearly_full():
    assert addmul.NOT_WELL == 0.8
    # Table 2's FNN: 69% and 20%, mean 44.5% of the unmasked 100%
    table = addmul.verdicts(_results())
    assert _claim(table, "inverted-limited") == "reproduced"
    assert "44.5%" in table["this run"].iloc[4]
    # one inverted mask at 90% and the other at 50%: the mean, 70%, is still below nearly full
    t = paper.ADDMUL_TABLE2.copy()
    t.loc[("FNN", "mul"), "¬add"], t.loc[("FNN", "add"), "¬mul"] = 90, 50
    assert _claim(addmul.verdicts(_results(table2=t)), "inverted-limited") == "reproduced"
    t.loc[("FNN", "add"), "¬mul"] = 80  # mean 85%
    assert _claim(addmul.verdicts(_results(table2=t)), "inverted-limited") == "not reproduced"


def test_figures_that_straddle_their_bound_are_inconclusive():
    # the FNN's inverted masks at 70% and 70% of seed 0 and 90% and 70% of seed 1: per seed 70% and
    # 80% of unmasked, mean 75%, whose t-interval over two seeds straddles 80%
    results = _results()
    acc = results["accuracy"]
    fnn = (acc["net"] == "FNN") & (((acc["mask"] == "¬add") & (acc["op"] == "mul"))
                                   | ((acc["mask"] == "¬mul") & (acc["op"] == "add")))
    acc.loc[fnn, "accuracy"] = 0.7
    acc.loc[fnn & (acc["seed"] == 1) & (acc["op"] == "mul"), "accuracy"] = 0.9
    table = addmul.verdicts(results)
    assert _claim(table, "inverted-limited") == "inconclusive" and "straddles 0.8" in table["why"].iloc[4]
    assert table["seeds"].iloc[4] == len(SEEDS)
    # one seed: the FNN follows the mask in 50.5% of 6,000-odd answers, a Wilson interval around 50%
    one = _results(fnn_follows=0.505)
    for key in one:
        one[key] = one[key][one[key]["seed"] == 0]
    assert _claim(addmul.verdicts(one), "fnn-follows-mask") == "inconclusive"
