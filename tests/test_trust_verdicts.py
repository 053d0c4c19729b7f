"""The trust chapter's rules judged by the paper's own numbers: they pass every rule, and a
contrary set fails every one; figures whose interval straddles a rule's threshold are inconclusive.

App. B.1 prints the masks' IoU, 93.26 +- 0.96% over 100 pairs of CIFAR-10 classes (10 CNNs x 10
pairs). Fig. 7, 9, 10 and 11 print no values: their bars and curves stand where App. B.2 and C.3
put them (named at each), at the weakest reading of the text where the rule draws a line, on the
paper's ten seeds alike (App. C.2: "mean and standard deviation calculated over 10 runs"; the
figures print no spread either), and Fig. 9's share of undecided probabilities is the committed
GPU run of the add/mul FNN at the paper's settings.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from weightmask import paper, reference
from weightmask.experiments import method, trust

from verdict_checks import every_claim

ROOT = Path(__file__).parents[1]
IOU = (0.9326, 0.0096)  # App. B.1: mean IoU 93.26 +- 0.96%, 10 CNNs x 10 pairs of CIFAR-10 classes
SEEDS = range(10)  # App. C.2: every figure is over 10 seeds
BETAS = (1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)  # Fig. 10's axis (the paper profile's)
SIZES = {"400-400-200": [42, 400, 400, 200, 20], "800-800-800-800": [42] + [800] * 4 + [20],
         "2000-2000-2000-2000": [42] + [2000] * 4 + [20], "4000-4000-4000-4000": [42] + [4000] * 4 + [20]}
FIG7 = ("SCAN Transformer", "add/mul FNN", "double-add LSTM", "double-add FNN", "double-add FNN (small)",
        "simple CNN (CIFAR-10)")  # Fig. 7's six networks, by the chapter's names
FIG9 = ("add/mul FNN", "double-add FNN", "double-add FNN (small)", "double-add LSTM")
STAND_IN = "Fashion-MNIST (Debian dataset-fashion-mnist), padded to 32x32, 3 channels"


def _undecided() -> list[float]:
    """Fig. 9 prints no share: the GPU reference run of the add/mul FNN at the paper profile
    (results/reference/method-paper) leaves 0.24-0.28% of the probabilities in (0.1, 0.9), per seed."""
    return reference.load("method-paper", ROOT / "results" / "reference").results["summary"]["between"].tolist()


def _weights(sizes):
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def _results(iou=IOU[0], data="CIFAR-10", low_drop=0.10, exception_left=0.20, small_drop=None,
             good=(1e-6, 1e-4), narrow=None, sharing=(0.5, 0.4, 0.3, 0.25), between=None, seeds=SEEDS):
    # App. B.1: 100 IoUs of mean 93.26% and standard deviation 0.96%, ten pairs per CNN (the paper's only
    # figures; the chance IoU and density are not printed, nor read by the rule)
    stability = [{"seed": s, "data": data, "pair": f"pair {i}", "iou": iou + IOU[1] * (-1) ** i,
                  "density": 0.05, "chance_iou": 0.03} for s in seeds for i in range(10)]
    halves, sweep, sizes, undecided = [], [], [], []
    for seed in seeds:
        # Fig. 7 (App. B.2): "for almost all configurations, we observe only a low drop in performance"
        # (here at the rule's 10 points, the weakest low drop); "the only exception we found is the big
        # FNN on the double-addition task, when the early layers are masked", "well above the chance
        # level" (Fig. 7 prints no bar: here 20% per pair, twice the rule's floor, a figure exactly at a
        # floor being undecidable); the small FNN "behaves similarly to all other networks". Unmasked: the
        # trained networks' 100% (Tables 1, 2); only the drops are Fig. 7's.
        for model in FIG7:
            drops = {"early layers masked": low_drop, "late layers masked": low_drop}
            if model == "double-add FNN (small)" and small_drop is not None:
                drops["early layers masked"] = small_drop
            for variant, acc in (("unmasked", 1.0), ("all layers masked", 1.0),
                                 *((v, 1.0 - d) for v, d in drops.items())):
                if (model, variant) == trust.EXCEPTION:
                    acc = exception_left
                halves.append({"model": model, "seed": seed, "variant": variant, "accuracy": acc})
        # Fig. 10 (App. C.3): "not very sensitive to the exact choice of beta", "the hyperparameter
        # transfers well between network sizes"; the chosen beta = 1e-4 (its red line) is the largest
        # that keeps > 95% in both networks, as the heuristic of App. C.3 picks it
        for network in ("800-800-800-800", "2000-2000-2000-2000"):
            lo, hi = narrow if narrow and network.startswith("800") else good
            for beta in BETAS:
                ok = lo <= beta <= hi
                sweep.append({"seed": seed, "network": network, "weights": _weights(SIZES[network]), "beta": beta,
                              "unmasked_add": 1.0, "unmasked_mul": 1.0, "add": 1.0, "mul": 0.99 if ok else 0.5,
                              "shared": 0.3})
        # Fig. 11 (App. C.3, C.4): the share of add's weights used by mul changes with size, "underfitting
        # NNs tend to share more"; every size solves the task ("the small ... can solve the task")
        sizes += [{"seed": seed, "network": n, "weights": _weights(s), "beta": 1e-4, "unmasked_add": 1.0,
                   "unmasked_mul": 1.0, "add": 1.0, "mul": 1.0, "shared": shared}
                  for (n, s), shared in zip(SIZES.items(), sharing)]
    # Fig. 9: the reference run's three seeds' shares, for every network of the figure
    shares = _undecided() if between is None else [between]
    undecided = [{"model": m, "seed": s, "between": b} for m in FIG9 for s, b in enumerate(shares)]
    return {"stability": pd.DataFrame(stability), "halves": pd.DataFrame(halves), "sweep": pd.DataFrame(sweep),
            "sizes": pd.DataFrame(sizes), "undecided": pd.DataFrame(undecided)}


def _verdicts(**kw):
    v = trust.verdicts(_results(**kw))
    return v, v["verdict"].tolist()


def test_the_paper_table_holds_the_papers_figures():
    st = _results()["stability"]
    assert len(st) == 100 and np.isclose(st["iou"].mean(), IOU[0]) and np.isclose(st["iou"].std(ddof=0), IOU[1])
    assert trust.STABILITY_PAPER == IOU


def test_the_papers_numbers_pass_every_rule():
    v = every_claim(trust, _results(), "reproduced")
    assert v["seeds"].tolist() == [10, 10, 10, 10, 3]  # Fig. 9: the reference run's three seeds


def test_contrary_numbers_fail_every_rule():
    every_claim(trust, _results(iou=0.85,                 # masks of two seeds agree on 85%
                                small_drop=0.3,           # the small double-add FNN loses 30 points
                                narrow=(1e-5, 1e-5),      # one size keeps > 95% at a single beta
                                sharing=(0.25, 0.3, 0.4, 0.5),  # larger networks share more
                                between=0.2),             # a fifth of the probabilities undecided
                "not reproduced")


def test_only_the_papers_exception_may_drop_and_it_must_stay_well_above_chance():
    assert _verdicts(exception_left=0.5)[1][1] == "reproduced"
    assert _verdicts(exception_left=0.05)[1][1] == "not reproduced"  # five times chance: not "well above"
    assert _verdicts(low_drop=0.15)[1][1] == "not reproduced"  # every other network must stay low
    # an allowance, not a requirement: without a large drop the exception needs no floor
    res = _results()
    h = res["halves"]
    h.loc[h["model"] == trust.EXCEPTION[0], "accuracy"] = 0.05  # unmasked and every variant at 5%: no drop
    assert trust.verdicts(res)["verdict"].iloc[1] == "reproduced"


def test_stability_on_cifar_within_the_papers_spread_only():
    v, verdicts = _verdicts(data=STAND_IN)
    assert verdicts[0] == "not comparable" and "Fashion-MNIST" in v["why"].iloc[0] and pd.isna(v["seeds"].iloc[0])
    assert _verdicts(iou=IOU[0] - 2 * IOU[1] - 0.001)[1][0] == "not reproduced"
    assert _verdicts(iou=IOU[0] + 2 * IOU[1] + 0.001)[1][0] == "not reproduced"  # denser masks agree trivially
    assert _verdicts(iou=IOU[0] + 1.5 * IOU[1])[1][0] == "reproduced"


def test_figures_whose_interval_straddles_a_threshold_are_inconclusive():
    """One seed: three class pairs of IoU 90%, 92% and 94% (the t-interval of their mean straddles the
    paper's lower edge, 91.3%), and the networks' halves at the 10-point edge of a low drop (the Wilson
    intervals over each network's test samples straddle it)."""
    res = _results(seeds=(0,), between=0.01)
    res["stability"] = pd.DataFrame([{"seed": 0, "data": "CIFAR-10", "pair": f"pair {i}", "iou": x,
                                      "density": 0.05, "chance_iou": 0.03} for i, x in enumerate((0.90, 0.92, 0.94))])
    v = trust.verdicts(res)
    assert v["verdict"].tolist() == ["inconclusive", "inconclusive", "reproduced", "reproduced", "reproduced"], \
        v[["this run", "why"]].to_dict("records")
    assert "straddles 0.913" in v["why"].iloc[0] and "accuracy drop" in v["why"].iloc[1]
    assert (v["seeds"] == 1).all()


def test_the_halves_table_names_its_test_samples():
    """A table with ``n_test`` uses it: 100 test samples leave a 5-point drop undecided against 10 points."""
    res = _results(seeds=(0,), low_drop=0.05)
    assert trust.verdicts(res)["verdict"].iloc[1] == "reproduced"
    res["halves"]["n_test"] = 100
    assert trust.verdicts(res)["verdict"].iloc[1] == "inconclusive"


def test_the_trust_and_method_chapters_judge_fig_9_by_one_rule():
    res = _results(between=0.03)
    row = trust.verdicts(res).set_index("claim").loc[trust.CLAIMS[-1].text]
    per_seed = {m: g["between"].tolist() for m, g in res["undecided"].groupby("model", sort=False)}
    expected = method.concentration(per_seed)
    assert (row["this run"], row["verdict"], row["why"]) == (expected.value, expected.verdict, expected.why)


def test_deviations_link_from_the_verdicts_at_the_profiles_that_tune_them():
    """(Every differing setting is declared: test_chapters.)"""
    assert "mask_steps" in paper.tuned_links("sweep", "trust", "quick")
    assert paper.tuned_links("sweep", "trust", "smoke") == ""  # smoke uses the add/mul chapter's masks
    assert 'id="deviation-scan_transformer"' in paper.deviations_html("trust")
