"""Paper Sec. 3.2, App. C.1 and C.5: does a network reuse one module to add two pairs?

A network answers ``a + b`` and ``c + d`` on separate inputs and outputs. It is frozen, and
masks are trained on the full task, on pair 1 and on pair 2, for an FNN (one pass per pair),
an LSTM that sees both pairs together and an LSTM forced to take one pair at a time. The
tables: weights shared between the pairs' modules per layer (Fig. 2), accuracy under masks
and inverted masks (Table 1) and with only the hidden layers inverted (Table 3), and the
sanity check of App. C.1 (Fig. 8): after copying pair 1's input and output weights onto
pair 2's, the hidden layers cannot tell the pairs apart and the masks must share them.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable

import pandas as pd
import torch
from torch import nn

from .. import biases, checks, evidence, paper
from ..mask import Mask
from ..masking import MaskedModel
from ..models import FNN
from ..stages import Stage
from ..store import RunStore
from ..tasks import double_add
from . import arith_nets, seed_ids

PAIRS = double_add.PAIRS
NETS = ("FNN", "LSTM", "LSTM (forced)")
CHOICES = {"nets": NETS}  # allowed values per setting (weightmask.checks); a subset runs those networks only
COPIED = "io-copied"  # the run-store variant of the App. C.1 network
TABLE_MASKS = ("full", "pair1", "¬pair1", "pair2", "¬pair2")
# Sec. 3.2: "weight sharing is low (Fig. 2)". Fig. 2 prints no values, but its axis ends at 25%
# (the authors' plot script, paper/plot_tuple_sharing.py in github.com/RobertCsordas/modules,
# sets ylim(0, 25) for both panels): every bar of it, a hidden layer's sharing per pair as a mean
# over seeds, lies at or below 25%. So is every one of this run's hidden-layer bars, or the
# sharing is not as low as the paper's.
LOW = 0.25
# Sec. 3.2 / Table 1: removing one pair's weights (its inverted mask) leaves the other pair "only
# slightly" lower and the removed pair near chance (1%). "Nearly full": at least 80% of the other
# pair's unmasked accuracy; the paper's lowest is the FNN's 92 ± 10.5% (10 seeds: 84-100%). "Near
# chance": at most 25%; the paper's highest is the FNN's 20 ± 12.7% and 21 ± 11.0% (at its own 10
# seeds that interval, 11-29%, straddles the bound: decisive only nearer chance, as its LSTMs are).
NEAR_FULL = 0.8
NEAR_CHANCE = 0.25
# App. C.1 / Fig. 8: with the I/O weights copied "the sharing is almost perfect"; Fig. 8 prints no
# value: "near-complete" is at least 80% of the hidden layers' weights shared (mean over layers).
NEAR_COMPLETE = 0.8
# App. C.5.1 / Table 3 (only the hidden layers inverted): "the inverted mask tends to work well on
# the opposite task, while its performance is significantly lower on the original task". Judged by
# the gap: for every network and inverted pair, the other pair's accuracy minus the removed pair's
# at least 20 points. The paper's smallest gap is 34 points (LSTM forced, ¬pair2: 76 ± 10.0% vs
# 42 ± 14.7%); with those spreads over its 10 seeds the gap's interval reaches down to about 21
# points (t-interval, sd of the difference up to 17.8), so 20 points is the bar the paper's own
# weakest case clears; its other gaps are 55-83 points. The opposite task's level itself gets no
# bar: the paper calls its FNN's 62-63% "tends to work well".
GAP = 0.20
# Sec. 3.2: "No difference between the two LSTM variants was observed". Judged on Table 1: every
# cell of the LSTM and the forced LSTM within 10 points of each other. The paper's cells are at
# most 4 points apart (¬pair1 on pair 2: 100 ± 0.2% vs 96 ± 4.1%); 10 points is that gap plus
# about 1.5 of the larger cell's spread, and half of the 20 points the chapter asks of a
# "significant" gap (GAP).
SAME = 0.10
N_TEST = double_add.TEST_SIZE  # test samples per pair: the fixed random quadruples


# Sec. 3.2 / App. C.1, C.5. The LSTM settings serve both LSTMs (together and forced).
# quick runs one seed; the FNN solves both pairs after 1000 steps, so it trains for 2000; the
# two-cell LSTMs for 6000 (LSTM_STEPS); their masks train for 1000-1500 steps at a 6x larger
# learning rate: at 1e-2 they are still shrinking after 2-3k steps.
LSTM_STEPS = ("measured with benchmarks/train_schedule.py on the LSTM that sees both pairs: with one seed it "
              "learns both pairs (>= 99%) after 2000 steps, with the quick run's seed pair 2 stays at 10% until "
              "step 4000 and reaches 99% at 6000; 6000 steps cover both")
PROFILES = {
    "smoke": dict(seeds=1, nets=list(NETS), eval_every=20,
                  fnn=dict(sizes=[80, 48, 48, 40], batch=128, train_steps=40, mask_steps=40, lr=1e-3,
                           mask_lr=1e-2, beta=4e-4, n_samples=4),
                  lstm=dict(seeds=1, hidden=16, layers=2, steps=6, batch=128, train_steps=20, mask_steps=20,
                            lr=1e-3, mask_lr=1e-2, beta=1e-4, n_samples=4)),
    "quick": dict(seeds=1, nets=list(NETS), eval_every=1000,
                  fnn=dict(sizes=[80, 400, 400, 200, 40], batch=128, train_steps=2000,
                           mask_steps=1500, lr=1e-3, mask_lr=6e-2, beta=4e-4, n_samples=4),
                  lstm=dict(seeds=1, hidden=128, layers=2, steps=6, batch=128, train_steps=6000,
                            mask_steps=1000, lr=1e-3, mask_lr=6e-2, beta=1e-4, n_samples=4)),
    "paper": dict(seeds=10, nets=list(NETS), eval_every=2000,
                  fnn=dict(sizes=[80, 2000, 2000, 2000, 2000, 40], batch=128, train_steps=20_000,
                           mask_steps=20_000, lr=1e-3, mask_lr=1e-2, beta=4e-4, n_samples=4),
                  lstm=dict(seeds=10, hidden=256, layers=2, steps=6, batch=128, train_steps=20_000,
                            mask_steps=20_000, lr=1e-3, mask_lr=1e-2, beta=1e-4, n_samples=4)),
}

CLAIMS = [
    paper.Claim("low-sharing", "The two pairs' modules share few weights in the hidden layers, "
                "although the same function is computed twice", "weight sharing is low", "Sec. 3.2, Fig. 2",
                tuned=("fnn.mask_lr", "lstm.mask_lr")),
    paper.Claim("inverted-pair", "Without the weights of one pair's mask the other pair keeps nearly its "
                "full accuracy, while the removed pair drops near chance",
                "FNN 94% / 20%, LSTM 100% / 2%, forced 96% / 4%", "Sec. 3.2, Table 1",
                tuned=("fnn.mask_lr", "lstm.mask_lr")),
    paper.Claim("sanity", "When the hidden layers cannot tell the pairs apart (I/O weights copied), "
                "the method finds near-complete sharing there", "sharing almost perfect", "App. C.1, Fig. 8"),
    paper.Claim("hidden-inverted", "With only the hidden layers inverted, the inverted mask works on the "
                "other pair and is significantly worse on its own", "gaps of 34-83 points (forced, ¬pair2: "
                "76% vs 42%)", "App. C.5.1, Table 3", tuned=("fnn.mask_lr", "lstm.mask_lr")),
    paper.Claim("lstm-variants", "The LSTM that sees both pairs together and the forced LSTM behave alike",
                "no difference observed (Table 1 cells at most 4 points apart)", "Sec. 3.2, Table 1"),
]

# One per setting of the smoke and quick profiles that differs from the paper's (App. C.2, C.4,
# C.5); the reasons are those of the comment above PROFILES. At 1e-2 the masks are still shrinking
# after 2-3k steps: a mask that keeps more weights than its pair needs overlaps the other pair's
# more, and its inversion removes weights the other pair needs, which hides the separation of
# Fig. 2 and Tables 1 and 3, so those claims name the masks' learning rates as tuned.
_MASK_LR = ("quick: 6x the paper's, for the shorter mask training: at 1e-2 the masks are still shrinking after "
            "2-3k steps")
DEVIATIONS = [
    paper.Deviation("seeds", "seeds", "10, App. C.2", "one seed at smoke and quick: each seed trains three networks "
                    "and their masks on a CPU; the verdicts say how many seeds they rest on"),
    paper.Deviation("fnn.sizes", "fnn.sizes", "80-2000-2000-2000-2000-40, App. C.4, C.5",
                    "quick: the 400-400-200 network (App. C.4 says it solves add/mul; it solves both pairs after "
                    f"1000 steps); {paper.SMOKE}"),
    paper.Deviation("fnn.train_steps", "fnn.train_steps", "20,000, App. C.4, C.5",
                    f"quick: 2000 steps (the FNN solves both pairs after 1000); {paper.SMOKE}"),
    paper.Deviation("fnn.mask_steps", "fnn.mask_steps", "20,000 per mask, App. C.4, C.5",
                    f"quick: 1500 steps per mask, at a larger learning rate (fnn.mask_lr); {paper.SMOKE}"),
    paper.Deviation("fnn.mask_lr", "fnn.mask_lr", "1e-2, App. C.4, C.5",
                    _MASK_LR),
    paper.Deviation("lstm.seeds", "lstm.seeds", "10, App. C.2", "one seed at smoke and quick, as the FNN"),
    paper.Deviation("lstm.hidden", "lstm.hidden", "256, App. C.4, C.5",
                    f"quick: 128 units, which learn both pairs at a CPU's cost ({LSTM_STEPS}); {paper.SMOKE}"),
    paper.Deviation("lstm.train_steps", "lstm.train_steps", "20,000, App. C.4, C.5",
                    f"quick: 6000 steps, {LSTM_STEPS}. They cost time: cold, on 2 cores, this chapter took 223 s "
                    "and add/mul (with the method chapter's networks it builds on) 234 s, together 7.6 minutes against "
                    "the 7 planned; without them the together LSTM does not learn pair 2 and every claim about it is "
                    f"not comparable; {paper.SMOKE}"),
    paper.Deviation("lstm.mask_steps", "lstm.mask_steps", "20,000 per mask, App. C.4, C.5",
                    f"quick: 1000 steps per mask, at a larger learning rate (lstm.mask_lr); {paper.SMOKE}"),
    paper.Deviation("lstm.mask_lr", "lstm.mask_lr", "1e-2, App. C.4, C.5",
                    _MASK_LR),
]
UNSTATED = {"eval_every"}  # how often training evaluates: the paper does not say, so no deviation can be declared


def nets(config: dict) -> dict[str, dict]:
    """The networks the profile runs (``nets``, of the chapter's three) and their settings."""
    common = {"eval_every": config["eval_every"]}
    every = {"FNN": {**common, **config["fnn"], "arch": "fnn"},
             "LSTM": {**common, **config["lstm"], "arch": "lstm", "feed": "together"},
             "LSTM (forced)": {**common, **config["lstm"], "arch": "lstm", "feed": "forced"}}
    return {n: every[n] for n in NETS if n in config.get("nets", NETS)}


@torch.no_grad()
def copy_io(net: FNN) -> None:
    """App. C.1: overwrite pair 2's input and output weights with pair 1's, in place."""
    layers = [m for m in net.modules() if isinstance(m, nn.Linear)]
    first, last = layers[0], layers[-1]
    first.weight[:, 40:80] = first.weight[:, 0:40]
    last.weight[20:40] = last.weight[0:20]
    last.bias[20:40] = last.bias[0:20]


def io_names(masked: MaskedModel) -> list[str]:
    """The input and output layers' parameters: the first and last weight matrices, and the
    biases of the modules they belong to."""
    layers = arith_nets.weight_layers(masked)
    io = [layers[0], layers[-1]]
    biases = [w.rsplit(".", 1)[0] + ".bias" for w in io]
    return io + [b for b in biases if b in masked.names]


def input_reads(masked: MaskedModel, masks: dict[str, Mask], tag: dict) -> list[dict]:
    """Per pair's mask, the share of the input weights it keeps that read the other pair's input units:
    a module that needs them cannot be removed without touching the other pair (an FNN's first layer, an
    LSTM's first cell). Near 0 when a pair's mask trains with the other pair's input hidden."""
    first = arith_nets.weight_layers(masked)[0]
    width = double_add.N_IN // len(PAIRS)
    rows = []
    for i, p in enumerate(PAIRS):
        w = masks[p][first].reshape(-1, double_add.N_IN)
        own, other = (int(w[:, width * j:width * (j + 1)].sum()) for j in (i, 1 - i))
        rows.append({**tag, "pair": p, "kept input weights": own + other,
                     "reading the other pair": other / max(own + other, 1)})
    return rows


def hidden_inverted(mask: Mask, full: Mask, io: list[str]) -> Mask:
    """Table 3's mask: the full-task mask on the input and output layers, ``~mask`` elsewhere."""
    return (~mask).replace({n: full[n] for n in io})


@torch.no_grad()
def _accuracy(masked: MaskedModel, masks: dict[str, Mask | None], cfg: dict, device) -> list[dict]:
    """Accuracy per (mask, pair) on the fixed test set."""
    _, _, evaluate = arith_nets.task("doubleadd", cfg, "full", 0, device)  # the evaluation draws nothing
    rows = []
    for name, m in masks.items():
        with masked.fixed(m if m is not None else Mask.full(masked.mask())):
            acc = evaluate(masked)
        rows += [{"mask": name, "pair": p, "accuracy": acc[f"acc_{p}"]} for p in PAIRS]
    return rows


def _without_biases(masked: MaskedModel, masks: dict[str, Mask], cfg: dict, device) -> list[dict]:
    """Table 1's inverted masks with the biases of the units each pair's mask uses removed too: what
    inverting a mask that covered biases would also take away (the masks here leave biases alone)."""
    rows = []
    for p in PAIRS:
        with biases.removed(masked.model, biases.used_units(masked.model, masks[p])):
            rows += _accuracy(masked, {"¬" + p: ~masks[p]}, cfg, device)
    return rows


def stages(config: dict, seed: int) -> list[Stage]:
    """The stages of one seed, for an executor (weightmask.stages): each network's weights and masks, and
    the pair-2 mask of the FNN with its input and output weights copied (App. C.1)."""
    networks = nets(config)
    out = arith_nets.stages("doubleadd", networks)
    if "FNN" in networks:
        copied = dict(problem="doubleadd", net=networks["FNN"], name="FNN", target="pair2", variant=COPIED,
                      edit=copy_io)
        out.append(Stage("FNN, I/O copied: mask pair2", arith_nets.mask_stage, copied, after=("FNN: weights",)))
    return out


def check(config: dict, **arguments) -> None:
    """The three networks fit the double-addition task."""
    for cfg in nets(config).values():
        arith_nets.check("doubleadd", cfg)


def run(config: dict, seeds: int | Iterable[int] | None = None, store: RunStore | None = None,
        device="auto") -> dict:
    """Tables ``sharing``, ``counts``, ``accuracy`` (Table 1 masks, and Table 3's as ``¬pairN
    (hidden)``) per network and seed, and ``sanity`` (sharing in the I/O-copied FNN).

    With ``seeds=None`` each network runs the profile's seeds, the LSTMs only their first
    ``lstm["seeds"]`` where set (they cost the most on a CPU).
    """
    checks.experiment("doubleadd", config, seeds, device)
    store = store or RunStore()
    tables: dict[str, list[dict]] = {"sharing": [], "counts": [], "accuracy": [], "sanity": [], "reads": [],
                                     "biases": []}
    ids = seed_ids(seeds, config["seeds"])
    for name, cfg in nets(config).items():
        for seed in ids[:cfg.get("seeds", len(ids))] if seeds is None else ids:
            tag = {"net": name, "seed": seed}
            net, _ = arith_nets.network("doubleadd", cfg, seed, store, device, name=name)
            masked, masks = arith_nets.masks("doubleadd", net, cfg, seed, store, device, name=name)
            shared, counts = arith_nets.layer_rows(masked, masks, PAIRS, "pair", tag)
            tables["sharing"] += shared
            tables["counts"] += counts
            io = io_names(masked)
            tables["reads"] += input_reads(masked, masks, tag)
            evaluated = {"none": None, "full": masks["full"]}
            for p in PAIRS:
                evaluated[p], evaluated["¬" + p] = masks[p], ~masks[p]
                evaluated[f"¬{p} (hidden)"] = hidden_inverted(masks[p], masks["full"], io)
            tables["accuracy"] += [{**tag, **r} for r in
                                   _accuracy(masked, evaluated, cfg, next(net.parameters()).device)]
            tables["biases"] += [{**tag, **r} for r in
                                 _without_biases(masked, masks, cfg, next(net.parameters()).device)]
            if name == "FNN":
                edited = copy.deepcopy(net)
                copy_io(edited)
                # pair 1's path is untouched by the copy: its mask is the one trained above
                masked_c, masks_c = arith_nets.masks("doubleadd", edited, cfg, seed, store, device,
                                                     variant=COPIED, name="FNN, I/O copied",
                                                     targets=("pair2",))
                masks_c["pair1"] = masks["pair1"]
                for variant, (m, ms) in (("trained", (masked, masks)), ("I/O copied", (masked_c, masks_c))):
                    rows, _ = arith_nets.layer_rows(m, ms, PAIRS, "pair", {**tag, "variant": variant})
                    tables["sanity"] += rows
    return {k: pd.DataFrame(v) for k, v in tables.items()}


def _hidden_sharing(df: pd.DataFrame) -> pd.Series:
    """Mean sharing over both pairs in the hidden layers (all but the first and last), per group."""
    keys = [c for c in ("net", "variant") if c in df.columns]
    out = {}
    for key, g in df.groupby(keys):
        last = g["layer"].max()
        out[key[0] if len(keys) == 1 else key] = float(g[(g["layer"] > 1) & (g["layer"] < last)]["shared"].mean())
    return pd.Series(out)


def _hidden(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the hidden layers (all but each network's first and last)."""
    last = df.groupby("net")["layer"].transform("max")
    return df[(df["layer"] > 1) & (df["layer"] < last)]


def _hidden_bars(df: pd.DataFrame) -> pd.Series:
    """Fig. 2's hidden-layer bars: per network, layer (all but the first and last) and pair, the
    sharing as a mean over seeds."""
    return _hidden(df).groupby(["net", "layer", "pair"])["shared"].mean()


def _seeds(acc: pd.DataFrame, net: str, mask: str, pair: str) -> list[float]:
    """One network's accuracy on ``pair`` under ``mask``, one value per seed in seed order."""
    a = acc[(acc["net"] == net) & (acc["mask"] == mask) & (acc["pair"] == pair)]
    return a.groupby("seed")["accuracy"].mean().tolist()


def _low_sharing(sharing: pd.DataFrame) -> paper.Finding:
    """Fig. 2: every hidden-layer bar (per network, layer and pair, over seeds) at most :data:`LOW`."""
    hidden = _hidden(sharing)
    tests = [evidence.Test(f"{net} layer {layer} {pair}: sharing", evidence.over_seeds(g.groupby("seed")["shared"]
                                                                                       .mean().tolist()), at_most=LOW)
             for (net, layer, pair), g in hidden.groupby(["net", "layer", "pair"])]
    bars = _hidden_bars(sharing)
    return paper.judged("; ".join(f"{n}: mean {v:.0%}, highest bar {bars[n].max():.0%}"
                                  for n, v in _hidden_sharing(sharing).items()), tests,
                        f"every hidden layer's sharing (per pair, over seeds) is at most {LOW:.0%}, the top of the "
                        "paper's Fig. 2")


def _inverted_pair(acc: pd.DataFrame, nets: list[str]) -> paper.Finding:
    """Table 1: under each pair's inverted mask the other pair keeps :data:`NEAR_FULL` of its
    unmasked accuracy and the removed pair falls to :data:`NEAR_CHANCE`."""
    tests, parts = [], []
    for n in nets:
        t1 = paper.DOUBLEADD_TABLE1.loc[n] if n in paper.DOUBLEADD_TABLE1.index.unique("net") else None
        for p, other in (PAIRS, PAIRS[::-1]):
            # an unmasked accuracy of 0 (a network that has not learned: 'not comparable' in verdicts) counts as
            # one test sample, as evidence.ratio floors it over several seeds
            keep = evidence.ratio(_seeds(acc, n, "¬" + p, other),
                                  [max(u, 1 / N_TEST) for u in _seeds(acc, n, "none", other)], N_TEST)
            drop = evidence.accuracy(_seeds(acc, n, "¬" + p, p), N_TEST)
            tests += [evidence.Test(f"{n} ¬{p}: {other}, of unmasked", keep, at_least=NEAR_FULL,
                                    paper=None if t1 is None else t1.loc[other, "¬" + p] / 100),
                      evidence.Test(f"{n} ¬{p}: {p}", drop, at_most=NEAR_CHANCE,
                                    paper=None if t1 is None else t1.loc[p, "¬" + p] / 100)]
        parts.append(f"{n}: ¬pair1 leaves pair 2 at {tests[-4].estimate.value:.0%} of unmasked, pair 1 at "
                     f"{tests[-3].estimate.value:.0%}; ¬pair2 leaves pair 1 at {tests[-2].estimate.value:.0%}, "
                     f"pair 2 at {tests[-1].estimate.value:.0%}")
    return paper.judged("; ".join(parts), tests,
                        f"for every network and inverted pair mask the other pair keeps >= {NEAR_FULL:.0%} of its "
                        f"unmasked accuracy and the removed pair falls to <= {NEAR_CHANCE:.0%}")


def _gaps(acc: pd.DataFrame, nets: list[str]) -> list[evidence.Test]:
    """Table 3: per network and inverted pair, the other pair's accuracy minus the removed pair's
    under the hidden-only inverted mask, at least :data:`GAP`."""
    tests = []
    for n in nets:
        t3 = paper.DOUBLEADD_TABLE3.loc[n] if n in paper.DOUBLEADD_TABLE3.index.unique("net") else None
        for p, other in (PAIRS, PAIRS[::-1]):
            mask = f"¬{p} (hidden)"
            gap = evidence.difference(_seeds(acc, n, mask, other), _seeds(acc, n, mask, p), N_TEST)
            ref = None if t3 is None else (t3.loc[other, "¬" + p] - t3.loc[p, "¬" + p]) / 100
            tests.append(evidence.Test(f"{n} ¬{p} (hidden): {other} minus {p}", gap, at_least=GAP, paper=ref))
    return tests


def _variants(acc: pd.DataFrame) -> list[evidence.Test]:
    """Table 1: per cell, the LSTM's accuracy minus the forced LSTM's, within :data:`SAME` either way."""
    a, b = NETS[1], NETS[2]
    t1 = paper.DOUBLEADD_TABLE1
    return [evidence.Test(f"{m} on {p}: {a} minus {b}",
                          evidence.difference(_seeds(acc, a, m, p), _seeds(acc, b, m, p), N_TEST),
                          at_least=-SAME, at_most=SAME, paper=(t1.loc[(a, p), m] - t1.loc[(b, p), m]) / 100)
            for p in PAIRS for m in TABLE_MASKS]


def _sanity(sanity: pd.DataFrame) -> paper.Finding:
    """App. C.1 / Fig. 8: the I/O-copied FNN's hidden-layer sharing at least :data:`NEAR_COMPLETE`."""
    if sanity.empty:
        return paper.Finding("no run", "not comparable", "this run has no FNN")
    sane = _hidden(sanity[sanity["variant"] == "I/O copied"]).groupby("seed")["shared"].mean()
    trained = _hidden_sharing(sanity).get(("FNN", "trained"), float("nan"))
    copied = evidence.over_seeds(sane.tolist())
    return paper.judged(f"FNN hidden-layer sharing {copied.text(digits=1)} with I/O copied (trained: {trained:.0%})",
                        [evidence.Test("FNN, I/O copied: hidden-layer sharing", copied, at_least=NEAR_COMPLETE)],
                        f"near-complete means >= {NEAR_COMPLETE:.0%}")


def verdicts(results: dict) -> pd.DataFrame:
    """The chapter's claims beside the paper's, each with a verdict computed from ``results``."""
    acc = results["accuracy"]
    net_names = list(dict.fromkeys(acc["net"]))
    unmasked = {n: min(float(acc[(acc["net"] == n) & (acc["mask"] == "none") & (acc["pair"] == p)]["accuracy"].mean())
                       for p in PAIRS) for n in net_names}

    gaps = _gaps(acc, net_names)
    hidden_inverted = paper.judged("; ".join(f"{t.what}: {t.estimate.text(digits=1)}" for t in gaps), gaps,
                                   f"for every network and inverted pair the other pair's accuracy exceeds the "
                                   f"removed pair's by >= {GAP * 100:.0f} points under the hidden-only inverted mask")

    if all(n in net_names for n in NETS[1:]):
        diffs = _variants(acc)
        worst = max(diffs, key=lambda t: abs(t.estimate.value))
        variants = paper.judged(f"largest difference: {worst.what} = {worst.estimate.value:+.0%}; "
                                f"{sum(abs(t.estimate.value) <= SAME for t in diffs)} of {len(diffs)} cells "
                                f"within {SAME * 100:.0f} points", diffs,
                                f"every Table 1 cell of the two LSTMs within {SAME * 100:.0f} points of each other")
        variants = paper.not_learned({"v": variants}, min(unmasked[n] for n in NETS[1:]))["v"]
    else:
        variants = paper.Finding("no run", "not comparable", "this run has not both LSTM variants")

    sanity = _sanity(results["sanity"])

    every = min(unmasked.values())
    out = paper.not_learned({"low-sharing": _low_sharing(results["sharing"]),
                             "inverted-pair": _inverted_pair(acc, net_names),
                             "hidden-inverted": hidden_inverted}, every)
    out.update(paper.not_learned({"sanity": sanity}, unmasked.get("FNN", every)))
    out["lstm-variants"] = variants
    return paper.verdict_table("doubleadd", out)


def accuracy_table(results: dict, hidden_only: bool = False) -> pd.DataFrame:
    """Table 1 (or, ``hidden_only``, Table 3) of the paper beside this run: accuracy [%] per
    network and tested pair under each mask, mean ± std over seeds, the paper's in brackets."""
    ref = paper.DOUBLEADD_TABLE3 if hidden_only else paper.DOUBLEADD_TABLE1
    acc = results["accuracy"].copy()
    if hidden_only:  # Table 3's inverted masks replace Table 1's
        acc = acc[~acc["mask"].isin(["¬pair1", "¬pair2"])]
        acc["mask"] = acc["mask"].str.replace(" (hidden)", "", regex=False)
    acc = acc[acc["mask"].isin(TABLE_MASKS)]
    stats = acc.groupby(["net", "pair", "mask"])["accuracy"].agg(["mean", "std"]).fillna(0) * 100
    rows = [r for r in ref.index if r in {(n, p) for n, p, _ in stats.index}]
    table = pd.DataFrame(index=pd.MultiIndex.from_tuples(rows, names=["net", "pair"]),
                         columns=list(TABLE_MASKS), dtype=object)
    for (net, pair, m), (mean, std) in stats.iterrows():
        table.loc[(net, pair), m] = f"{mean:.0f} ± {std:.0f} (paper {ref.loc[(net, pair), m]})"
    return table


def _mean(acc: pd.DataFrame, net: str, mask: str, pair: str) -> float:
    seeds = _seeds(acc, net, mask, pair)
    return 100 * sum(seeds) / len(seeds)


def hidden_gaps(results: dict) -> pd.DataFrame:
    """The figure the hidden-inverted claim judges (App. C.5.1, Table 3): per network and inverted
    pair, the other pair's and the removed pair's accuracy [%] under the hidden-only inverted mask
    (means over seeds) and the gap between them [points], beside the paper's."""
    acc, rows = results["accuracy"], []
    for n in dict.fromkeys(acc["net"]):
        for p, other in (PAIRS, PAIRS[::-1]):
            mask, ref = f"¬{p} (hidden)", paper.DOUBLEADD_TABLE3.loc[n]
            keep, drop = _mean(acc, n, mask, other), _mean(acc, n, mask, p)
            rows.append({"net": n, "mask": f"¬{p}", "other pair": round(keep), "removed pair": round(drop),
                         "gap": round(keep - drop), "paper: other": ref.loc[other, "¬" + p],
                         "paper: removed": ref.loc[p, "¬" + p],
                         "paper: gap": ref.loc[other, "¬" + p] - ref.loc[p, "¬" + p]})
    return pd.DataFrame(rows).set_index(["net", "mask"])


def variant_differences(results: dict) -> pd.DataFrame:
    """The figures the lstm-variants claim judges (Sec. 3.2, Table 1): per tested pair and mask, the
    LSTM's and the forced LSTM's accuracy [%] (means over seeds) and their difference [points],
    beside the paper's difference; empty when this run has not both LSTMs."""
    acc, (a, b) = results["accuracy"], NETS[1:]
    if not {a, b} <= set(acc["net"]):
        return pd.DataFrame()
    t1, rows = paper.DOUBLEADD_TABLE1, []
    for p in PAIRS:
        for m in TABLE_MASKS:
            x, y = _mean(acc, a, m, p), _mean(acc, b, m, p)
            rows.append({"pair": p, "mask": m, a: round(x), b: round(y), "difference": round(x - y),
                         "paper: difference": t1.loc[(a, p), m] - t1.loc[(b, p), m]})
    return pd.DataFrame(rows).set_index(["pair", "mask"])


def biases_table(results: dict) -> pd.DataFrame:
    """Per network and inverted pair: each pair's accuracy [%] under the inverted mask with every bias
    kept (Table 1 here) and with the biases of the inverted pair's units removed too, means over seeds."""
    acc, removed = results["accuracy"], results["biases"]
    rows = []
    for n in dict.fromkeys(removed["net"]):
        for p, other in (PAIRS, PAIRS[::-1]):
            row = {"net": n, "mask": "¬" + p}
            for pair, what in ((other, "other pair"), (p, "removed pair")):
                row[f"{what}: biases kept"] = _mean(acc, n, "¬" + p, pair)
                row[f"{what}: its biases removed"] = _mean(removed, n, "¬" + p, pair)
            rows.append(row)
    return pd.DataFrame(rows).set_index(["net", "mask"]).round(0)


def reads_table(results: dict) -> pd.DataFrame:
    """Per network and pair: the share of the pair's kept input weights that read the other pair's
    input units (:func:`input_reads`), mean over seeds."""
    r = results["reads"]
    return (r.groupby(["net", "pair"], sort=False)[["kept input weights", "reading the other pair"]].mean()
            .style.format({"kept input weights": "{:,.0f}", "reading the other pair": "{:.1%}"}))
