"""The double-addition chapter's rules judged by the paper's own numbers: they pass every rule,
and a contrary set fails every one; a figure whose interval straddles its bound is inconclusive.

Tables 1 and 3 print their accuracies. Fig. 2 and 8 print no values: Fig. 2's axis ends at 25%
(the authors' plot script, paper/plot_tuple_sharing.py of github.com/RobertCsordas/modules, sets
ylim(0, 25)), so its hidden-layer bars stand at that top here, the highest the figure allows;
Fig. 8's stand where App. C.1 puts them, "almost perfect". Two seeds, each at the paper's figure:
no spread, so every verdict is decisive.
"""
import pandas as pd

from weightmask import paper
from weightmask.experiments import doubleadd
from weightmask.tasks import double_add

from verdict_checks import every_claim

# Sec. 3.2 / App. C.5: the FNN has 4 hidden layers of 2000 (5 weight layers), an LSTM its input,
# recurrent and output weights; Fig. 2 shows the FNN and the LSTM, and "no difference between the
# two LSTM variants was observed" (Sec. 3.2)
LAYERS = {"FNN": 5, "LSTM": 3, "LSTM (forced)": 3}
SEEDS = (0, 1)
FIG2_TOP = 0.25  # the top of Fig. 2's axis


def _results(hidden=FIG2_TOP, copied=0.9, table1=paper.DOUBLEADD_TABLE1, table3=paper.DOUBLEADD_TABLE3):
    sharing, accuracy, sanity = [], [], []
    for net, layers in LAYERS.items():
        for seed in SEEDS:
            for pair in double_add.PAIRS:
                for layer in range(1, layers + 1):
                    # Fig. 2: "The first and last layers have no shared weights"
                    end = layer in (1, layers)
                    tag = {"net": net, "seed": seed, "layer": layer, "name": f"w{layer}", "pair": pair}
                    sharing.append({**tag, "shared": 0.0 if end else hidden, "kept": 10_000})
                    if net == "FNN":
                        # Fig. 8 (App. C.1): with the I/O weights copied "the sharing is almost perfect",
                        # "the first and last layers are still not shared"; as trained: Fig. 2
                        for variant, h in (("trained", hidden), ("I/O copied", copied)):
                            sanity.append({**tag, "variant": variant, "shared": 0.0 if end else h,
                                           "kept": 10_000})
            # Table 1 (Sec. 3.2) and Table 3 (App. C.5.1, the "(hidden)" inversions), accuracy [%]
            # per tested pair under each mask; unmasked: trained "until convergence" (Sec. 3.2), as
            # the "Full" column
            for mask in ("none",) + doubleadd.TABLE_MASKS + ("¬pair1 (hidden)", "¬pair2 (hidden)"):
                for pair in double_add.PAIRS:
                    table = table3 if mask.endswith("(hidden)") else table1
                    column = "full" if mask == "none" else mask.replace(" (hidden)", "")
                    accuracy.append({"net": net, "seed": seed, "mask": mask, "pair": pair,
                                     "accuracy": table.loc[(net, pair), column] / 100})
    return {"sharing": pd.DataFrame(sharing), "accuracy": pd.DataFrame(accuracy),
            "sanity": pd.DataFrame(sanity)}


def test_the_papers_numbers_pass_every_rule():
    every_claim(doubleadd, _results(), "reproduced")


def test_contrary_numbers_fail_every_rule():
    # removing pair 1's weights leaves pair 2 at half its accuracy (Table 1 says 94% for the FNN), and
    # the forced LSTM's removed pair 2 stays at 20%, 18 points off the other LSTM's 2%
    weak = paper.DOUBLEADD_TABLE1.copy()
    weak.loc[("FNN", "pair2"), "¬pair1"] = 50
    weak.loc[("LSTM (forced)", "pair2"), "¬pair2"] = 20
    # with only the hidden layers inverted, the FNN's pair 2 is no better than its removed pair 1
    close = paper.DOUBLEADD_TABLE3.copy()
    close.loc[("FNN", "pair2"), "¬pair1"] = 15
    results = _results(hidden=0.40,  # hidden layers share 40%, above the top of Fig. 2
                       copied=0.5,   # with the I/O copied, the method finds half the sharing
                       table1=weak, table3=close)
    every_claim(doubleadd, results, "not reproduced")


def test_low_sharing_is_judged_at_the_top_of_fig_2_bar_by_bar():
    assert doubleadd.LOW == FIG2_TOP
    assert doubleadd.verdicts(_results(hidden=FIG2_TOP + 0.01))["verdict"].iloc[0] == "not reproduced"
    # one hidden bar above the top fails, even when the hidden layers' mean stays below it
    res = _results(hidden=0.1)
    s = res["sharing"]
    s.loc[(s["net"] == "FNN") & (s["layer"] == 2) & (s["pair"] == "pair1"), "shared"] = 0.5
    assert doubleadd.verdicts(res)["verdict"].iloc[0] == "not reproduced"


def _claim(table, claim_id):
    return table.set_index(pd.Index([c.id for c in doubleadd.CLAIMS]))["verdict"][claim_id]


def test_the_hidden_only_gap_is_judged_at_20_points():
    # Table 3's smallest gap, the forced LSTM's 76% vs 42%, is 34 points; at 25 points it still passes,
    # at 15 it fails
    for other, verdict in ((67, "reproduced"), (57, "not reproduced")):
        t3 = paper.DOUBLEADD_TABLE3.copy()
        t3.loc[("LSTM (forced)", "pair1"), "¬pair2"] = other
        assert _claim(doubleadd.verdicts(_results(table3=t3)), "hidden-inverted") == verdict


def test_the_lstm_variants_are_compared_cell_by_cell():
    t1 = paper.DOUBLEADD_TABLE1.copy()
    t1.loc[("LSTM (forced)", "pair2"), "¬pair2"] = 11  # 9 points off the LSTM's 2%
    assert _claim(doubleadd.verdicts(_results(table1=t1)), "lstm-variants") == "reproduced"
    t1.loc[("LSTM (forced)", "pair2"), "¬pair2"] = 13  # 11 points off
    assert _claim(doubleadd.verdicts(_results(table1=t1)), "lstm-variants") == "not reproduced"
    # a run without the forced LSTM has nothing to compare
    res = {k: v[v["net"] != "LSTM (forced)"] for k, v in _results().items()}
    assert _claim(doubleadd.verdicts(res), "lstm-variants") == "not comparable"


def test_figures_that_straddle_their_bound_are_inconclusive():
    # the FNN's hidden-only gap at 15 points at seed 0 and 30 at seed 1: mean 22.5, whose t-interval
    # over two seeds straddles 20 points
    res = _results()
    acc = res["accuracy"]
    cell = (acc["net"] == "FNN") & (acc["mask"] == "¬pair1 (hidden)")
    acc.loc[cell & (acc["pair"] == "pair1"), "accuracy"] = 0.1
    acc.loc[cell & (acc["pair"] == "pair2") & (acc["seed"] == 0), "accuracy"] = 0.25
    acc.loc[cell & (acc["pair"] == "pair2") & (acc["seed"] == 1), "accuracy"] = 0.40
    table = doubleadd.verdicts(res)
    assert _claim(table, "hidden-inverted") == "inconclusive" and table["seeds"].iloc[3] == len(SEEDS)
    assert "straddles 0.2" in table["why"].iloc[3]
    # one seed with the chapter's 10,000 test quadruples: a removed pair at 25% straddles near chance
    one = {k: v[v["seed"] == 0].copy() for k, v in _results().items()}
    acc = one["accuracy"]
    acc.loc[(acc["net"] == "FNN") & (acc["mask"] == "¬pair1") & (acc["pair"] == "pair1"), "accuracy"] = 0.25
    assert _claim(doubleadd.verdicts(one), "inverted-pair") == "inconclusive"
