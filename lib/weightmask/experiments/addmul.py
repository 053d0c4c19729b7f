"""Paper Sec. 3.1 and App. C.4: do addition and multiplication get separate modules in an FNN?

A network trained on both operations is frozen; masks are trained on the full task (control),
on addition only and on multiplication only. The tables: weights shared between the two
modules per layer (Fig. 1), weights per operation per layer (Fig. 12), accuracy under masks
and inverted masks (Table 2), and which operation the network performs under each mask
whatever the selector asks for (Fig. 13).
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import torch

from .. import checks, evidence, paper
from ..mask import Mask
from ..masking import MaskedModel
from ..store import RunStore
from ..tasks import arithmetic
from . import arith_nets, doubleadd, method, seed_ids

OPS = arithmetic.OPS
NETS = ("FNN", "LSTM")
CHOICES = {"nets": NETS}  # allowed values per setting (weightmask.checks); a subset runs those networks only
PERFORMED = ("add", "mul", "none")
PAIRS = ((OPS[0], OPS[1]), (OPS[1], OPS[0]))  # (an operation, the other one)
# Sec. 3.1: "the multiplication uses 3.8 times more weights than the addition (Fig. 12)", the
# FNN's (Fig. 12a; the paper prints no figure for the LSTM of Fig. 12b, whose ratio is shown but
# not judged). The ratio is of the masks' weights summed over layers, per seed, its mean and
# interval over seeds. It is printed without a spread, and both mask sizes move with beta and the
# network's size (Fig. 10, 11), so it is judged within a factor of 1.5 either way, 2.5x to 5.7x:
# the paper's figure with one of the two mask sizes off by half. A ratio of 2x, about half the
# paper's, is not its figure, nor is one of 6x; either direction fails.
MUL_RATIO = 3.8
RATIO_TOLERANCE = 1.5
# Sec. 3.1 / Fig. 1: "more sharing in the input and output layers and less in the hidden layers".
# Fig. 1 prints no values: the rule asks only the order, the first and last layers' mean sharing
# above the hidden layers' (per network and operation, per seed, over seeds).
ENDS_ABOVE = 0.0
# App. C.4 / Fig. 13: the FNN "performs the one corresponding to the mask", the LSTM "tends to
# perform invalid operations". Fig. 13 prints no values; "performs" and "tends to" are judged as
# "most answers": more than half of the answers to the other operation's inputs.
MOST = 0.5
# App. C.4 / Table 2: "inverted masks do not perform well, showing that the separation of the
# modules is limited". Judged on what the inversion is for (Sec. 2: "the inverted masks are expected
# to perform well on the complementary task"): the other operation's accuracy under an operation's
# inverted mask, the mean of the two inverted masks, relative to the unmasked accuracy, stays below
# the level the double-addition chapter calls "nearly full" (doubleadd.NEAR_FULL, 80%). Table 2
# passes it far from the edge: FNN (69 + 20) / 2 = 44.5%, LSTM (6 + 1) / 2 = 3.5%; Table 1's double
# addition, where the paper finds the modules separate, fails it (93-100%). The mean, not each mask:
# the statement is about the inverted masks together, and the paper's own FNN ¬add keeps mul at
# 69 ± 9.7% (10 seeds), so about one run in eight of the paper's setting would put one inverted
# mask above 80%, while the mean of the two (spread about 6 points) stays 35 points below it.
NOT_WELL = doubleadd.NEAR_FULL
N_TEST = method.N_TEST  # test samples per operation: every (a, b) pair


# Sec. 3.1 / App. C.4. The FNN and its full-task mask are the method chapter's stages
# (same settings, so the run store shares them); quick uses the 400-400-200 network that
# App. C.4 says solves the task, and the paper's LSTM (at 128 units it does not learn
# multiplication in 6000 steps) at lr 3e-3 for 4000 steps (at 1e-3 it needs 8000), one seed
# each. Quick FNN masks train for 5000 steps at 10x the paper's learning rate, sized from a
# measurement of when they settle (method.QUICK_MASKS), the LSTM's for 1000 at 6e-2. smoke only
# shows that the code runs.
PROFILES = {
    "smoke": dict(seeds=1, nets=list(NETS), sizes=[42, 64, 64, 20], batch=128, train_steps=40, mask_steps=40,
                  lr=1e-3, mask_lr=1e-2, beta=1e-4, n_samples=4, eval_every=20,
                  lstm=dict(seeds=1, hidden=16, layers=2, steps=3, batch=128, train_steps=20, mask_steps=20, lr=1e-3,
                            mask_lr=1e-2, beta=1e-4, n_samples=4)),
    "quick": dict(seeds=1, nets=list(NETS), sizes=[42, 400, 400, 200, 20], batch=128, train_steps=6000,
                  mask_steps=5000, lr=1e-3, mask_lr=1e-1, beta=1e-4, n_samples=4,
                  eval_every=1000,
                  lstm=dict(seeds=1, hidden=256, layers=2, steps=3, batch=128, train_steps=4000, mask_steps=1000,
                            lr=3e-3, mask_lr=6e-2, beta=1e-4, n_samples=4)),
    "paper": dict(seeds=10, nets=list(NETS), sizes=[42, 2000, 2000, 2000, 2000, 20], batch=128,
                  train_steps=20_000, mask_steps=20_000, lr=1e-3, mask_lr=1e-2, beta=1e-4,
                  n_samples=4, eval_every=2000,
                  lstm=dict(seeds=10, hidden=256, layers=2, steps=3, batch=128, train_steps=20_000, mask_steps=20_000,
                            lr=1e-3, mask_lr=1e-2, beta=1e-4, n_samples=4)),
}

CLAIMS = [
    paper.Claim("shared-ends", "Add and mul share more weights in the first and last layers than in "
                "hidden layers", "sharing highest at the input and output layers", "Sec. 3.1, Fig. 1",
                tuned=("mask_lr", "lstm.mask_lr")),
    paper.Claim("mul-more", "Multiplication uses several times more weights than addition",
                "3.8x", "Sec. 3.1, Fig. 12", tuned=("mask_lr",)),
    paper.Claim("fnn-follows-mask", "Under one operation's mask the FNN performs that operation "
                "whatever the selector says", "performs the masked operation", "App. C.4, Fig. 13a-c",
                tuned=("mask_lr",)),
    paper.Claim("lstm-invalid", "Under one operation's mask the LSTM answers the other operation "
                "with invalid outputs (neither sum nor product)", "mostly 'none'", "App. C.4, Fig. 13d-f",
                tuned=("lstm.mask_lr",)),
    paper.Claim("inverted-limited", "Inverted masks do not perform well on the other operation: the "
                "separation of the modules is limited", "FNN: ¬add leaves mul 69%, ¬mul leaves add 20%; "
                "LSTM: 6%, 1%", "App. C.4, Table 2"),
]

# One per setting of the smoke and quick profiles that differs from the paper's (App. C.2, C.4); the
# reasons are those of the comment above PROFILES. A larger mask learning rate lets the shorter mask
# training converge: a mask still shrinking keeps more of the weights than its operation needs, which
# hides the separation that Fig. 1, 12 and 13 show, so those claims name it as tuned.
DEVIATIONS = [
    *method.FNN_DEVIATIONS,  # the FNN is the method chapter's, its stages shared
    paper.Deviation("lstm.seeds", "lstm.seeds", "10, App. C.2", "one seed at smoke and quick, as the FNN"),
    paper.Deviation("lstm.hidden", "lstm.hidden", "256, App. C.4",
                    f"quick: the paper's 256 (at 128 units the LSTM does not learn multiplication in 6000 steps); "
                    f"{paper.SMOKE}"),
    paper.Deviation("lstm.train_steps", "lstm.train_steps", "20,000, App. C.4",
                    f"quick: 4000 steps at a larger learning rate (lstm.lr); {paper.SMOKE}"),
    paper.Deviation("lstm.lr", "lstm.lr", "1e-3, App. C.2",
                    "quick: 3e-3, so that 4000 steps suffice (at 1e-3 the LSTM needs 8000)"),
    paper.Deviation("lstm.mask_steps", "lstm.mask_steps", "20,000 per mask, App. C.4",
                    f"quick: 1000 steps per mask, at a larger learning rate (lstm.mask_lr); {paper.SMOKE}"),
    paper.Deviation("lstm.mask_lr", "lstm.mask_lr", "1e-2, App. C.4",
                    "quick: 6e-2, so that the masks' 1000 steps converge"),
]
UNSTATED = {"eval_every"}  # how often training evaluates: the paper does not say, so no deviation can be declared


def _examples(device):
    """Every (a, b, op) pair whose sum and product differ modulo 100 (else 'performed' is ambiguous)."""
    a, b = torch.meshgrid(torch.arange(100), torch.arange(100), indexing="ij")
    a, b = a.reshape(-1).repeat(2), b.reshape(-1).repeat(2)
    op = torch.arange(2).repeat_interleave(10000)
    keep = (a + b) % 100 != (a * b) % 100
    a, b, op = a[keep], b[keep], op[keep]
    return arithmetic.encode(a, b, op).to(device), a, b, op


@torch.no_grad()
def _evaluate(masked: MaskedModel, masks: dict[str, Mask | None], device):
    """Accuracy per (mask, operation) on all pairs, and what each mask makes the network compute."""
    x_all, y_all, op_all = arithmetic.all_examples()
    x_all, y_all = x_all.to(device), y_all.to(device)
    x, a, b, op = _examples(device)
    acc, performed = [], []
    for name, m in masks.items():
        # None: the network as trained (a full mask)
        with masked.fixed(m if m is not None else Mask.full(masked.mask())):
            out = masked(x_all)
            pred = arithmetic.predict(masked(x)).cpu()
        for i, o in enumerate(OPS):
            acc.append({"mask": name, "op": o,
                        "accuracy": arithmetic.accuracy(out[op_all == i], y_all[op_all == i])})
        did = {"add": pred == (a + b) % 100, "mul": pred == (a * b) % 100}
        did["none"] = ~(did["add"] | did["mul"])
        for i, o in enumerate(OPS):
            for p in PERFORMED:
                performed.append({"mask": name, "selector": o, "performed": p,
                                  "fraction": float(did[p][op == i].float().mean())})
    return acc, performed


def nets(config: dict) -> dict[str, dict]:
    """The networks the profile runs (``nets``) and their settings: the FNN (top-level settings), the LSTM."""
    fnn = {k: v for k, v in config.items() if k not in ("lstm", "seeds", "nets")}
    every = {"FNN": fnn, "LSTM": {"eval_every": fnn["eval_every"], **config["lstm"], "arch": "lstm"}}
    return {n: every[n] for n in NETS if n in config.get("nets", NETS)}


def _tables(net_name: str, seed: int, masked: MaskedModel, masks: dict[str, Mask], device) -> dict:
    """The chapter's rows for one network and seed."""
    rows: dict[str, list[dict]] = {"accuracy": [], "performed": []}
    tag = {"net": net_name, "seed": seed}
    rows["sharing"], rows["counts"] = arith_nets.layer_rows(masked, masks, OPS, "op", tag)
    evaluated = {"none": None, "full": masks["full"]}
    for o in OPS:
        evaluated[o], evaluated["¬" + o] = masks[o], ~masks[o]
    acc, performed = _evaluate(masked, evaluated, device)
    rows["accuracy"] += [{**tag, **r} for r in acc]
    rows["performed"] += [{**tag, **r} for r in performed]
    return rows


def stages(config: dict, seed: int) -> list:
    """The stages of one seed, for an executor (weightmask.stages): each network's weights and masks."""
    return arith_nets.stages("addmul", nets(config))


def check(config: dict, **arguments) -> None:
    """Both networks fit the add/mul task."""
    for cfg in nets(config).values():
        arith_nets.check("addmul", cfg)


def run(config: dict, seeds: int | Iterable[int] | None = None, store: RunStore | None = None,
        device="auto") -> dict:
    """Tables ``sharing``, ``counts``, ``accuracy``, ``performed`` (one row per net, seed and entry)."""
    checks.experiment("addmul", config, seeds, device)
    store = store or RunStore()
    tables: dict[str, list[dict]] = {"sharing": [], "counts": [], "accuracy": [], "performed": []}
    ids = seed_ids(seeds, config["seeds"])
    for name, cfg in nets(config).items():
        # with the profile's seeds, a network with its own ``seeds`` runs only that many
        for seed in ids[:cfg.get("seeds", len(ids))] if seeds is None else ids:
            net, _ = arith_nets.network("addmul", cfg, seed, store, device, name=name)
            masked, masks = arith_nets.masks("addmul", net, cfg, seed, store, device, name=name)
            for key, rows in _tables(name, seed, masked, masks, next(net.parameters()).device).items():
                tables[key] += rows
    return {k: pd.DataFrame(v) for k, v in tables.items()}


def _unmasked(results: dict, net: str | None = None) -> float:
    """The lowest accuracy of an operation without a mask (of ``net``, else of the worst net)."""
    acc = results["accuracy"]
    acc = acc[(acc["mask"] == "none") & ((acc["net"] == net) if net else True)]
    return float(acc.groupby(["net", "op"])["accuracy"].mean().min())


def _per_seed(df: pd.DataFrame, index: list[str], value: str, aggfunc: str = "mean") -> pd.DataFrame:
    """``df[value]`` with one column per seed (rows: ``index``), seeds in the same order in every row."""
    return df.pivot_table(index=index, columns="seed", values=value, aggfunc=aggfunc)


def _n_performed() -> int:
    """Test inputs per selector in Fig. 13's counts: the (a, b) pairs whose sum and product differ."""
    a, b = torch.meshgrid(torch.arange(100), torch.arange(100), indexing="ij")
    return int(((a + b) % 100 != (a * b) % 100).sum())


def _shared_ends(sharing: pd.DataFrame) -> paper.Finding:
    """Fig. 1: per network and operation, the first and last layers' sharing above the hidden layers'."""
    tests, parts = [], []
    for (net, op), df in sharing.groupby(["net", "op"]):
        g = _per_seed(df, ["layer"], "shared")
        ends, hidden = g.loc[[g.index.min(), g.index.max()]], g.drop([g.index.min(), g.index.max()])
        if hidden.empty:
            return paper.Finding("no hidden layer", "not comparable", f"the {net} has no hidden weight layer")
        gap = evidence.over_seeds((ends.mean() - hidden.mean()).tolist())
        tests.append(evidence.Test(f"{net} {op}: ends minus hidden sharing", gap, at_least=ENDS_ABOVE))
        parts.append(f"{net} {op}: ends {ends.mean().mean():.0%}, hidden {hidden.mean().mean():.0%}")
    return paper.judged("; ".join(parts), tests, "in every network both operations share a larger part of their "
                        "weights in the first and last layers than in the hidden layers (mean over seeds)")


def _mul_more(counts: pd.DataFrame) -> paper.Finding:
    """Sec. 3.1 / Fig. 12: the FNN's mul / add ratio of kept weights against the paper's 3.8x."""
    ratios = {}
    for net, df in counts.groupby("net"):
        kept = _per_seed(df, ["op"], "kept", "sum")  # summed over layers
        ratios[net] = evidence.over_seeds((kept.loc["mul"] / kept.loc["add"]).tolist())
    value = "; ".join(f"{n}: mul / add = {r.text(percent=False, digits=1, unit='x')}" for n, r in ratios.items())
    if "FNN" not in ratios:
        return paper.Finding(value or "no run", "not comparable", "the paper's 3.8x is the FNN's; this run has no FNN")
    low, high = MUL_RATIO / RATIO_TOLERANCE, MUL_RATIO * RATIO_TOLERANCE
    return paper.judged(value, [evidence.Test("FNN: mul / add weights", ratios["FNN"], at_least=low, at_most=high,
                                              paper=MUL_RATIO)],
                        f"the FNN's ratio within a factor {RATIO_TOLERANCE:g} of the paper's {MUL_RATIO:g}x "
                        f"({low:.1f}x to {high:.1f}x); the LSTM's is shown, the paper prints none")


def _wrong_selector(results: dict, net: str, performed: str | None, what: str) -> paper.Finding:
    """Fig. 13: under each operation's mask, with the other operation's selector, the share of answers
    that are ``performed`` (default: the masked operation's results), over seeds or test inputs."""
    df = results["performed"]
    p = _per_seed(df[df["net"] == net], ["mask", "selector", "performed"], "fraction")
    tests = [evidence.Test(f"{o} mask, {other} selector", evidence.accuracy(p.loc[(o, other, performed or o)].tolist(),
                                                                            _n_performed()), at_least=MOST)
             for o, other in PAIRS]
    return paper.judged("; ".join(f"{t.what}: {t.estimate.text(digits=1)}" for t in tests), tests,
                        f"under each operation's mask most answers to the other operation's inputs are {what}")


def _inverted(results: dict) -> paper.Finding:
    """Table 2: per network, the other operation's accuracy under the two inverted masks (their mean),
    relative to the unmasked accuracy, below :data:`NOT_WELL`."""
    tests, parts = [], []
    for net, df in results["accuracy"].groupby("net"):
        acc = _per_seed(df, ["mask", "op"], "accuracy")
        kept = sum(acc.loc[("¬" + o, other)] for o, other in PAIRS) / len(PAIRS)
        unmasked = sum(acc.loc[("none", other)] for _, other in PAIRS) / len(PAIRS)
        t2 = paper.ADDMUL_TABLE2.loc[net] if net in paper.ADDMUL_TABLE2.index.unique("net") else None
        ref = None if t2 is None else float(sum(t2.loc[other, "¬" + o] for o, other in PAIRS) / len(PAIRS) / 100)
        n = len(PAIRS) * N_TEST
        # an unmasked accuracy of 0 (a network that has not learned: 'not comparable' in verdicts) counts as one
        # test sample, as evidence.ratio floors it over several seeds
        tests.append(evidence.Test(f"{net}: other operation under the inverted masks, of unmasked",
                                   evidence.ratio(kept.tolist(), unmasked.clip(lower=1 / n).tolist(), n),
                                   at_most=NOT_WELL, paper=ref))
        parts.append(f"{net}: ¬add leaves mul {acc.loc[('¬add', 'mul')].mean():.0%}, ¬mul leaves add "
                     f"{acc.loc[('¬mul', 'add')].mean():.0%} (mean of the two, of unmasked: "
                     f"{tests[-1].estimate.text(digits=1)})")
    return paper.judged("; ".join(parts), tests, "in every network the other operation keeps, under the inverted "
                        f"masks (mean of the two), less than {NOT_WELL:.0%} of its unmasked accuracy")


def verdicts(results: dict) -> pd.DataFrame:
    """The chapter's claims beside the paper's, each with a verdict computed from ``results``."""
    ran = set(results["accuracy"]["net"])
    measured = {"shared-ends": _shared_ends(results["sharing"]), "mul-more": _mul_more(results["counts"]),
                "inverted-limited": _inverted(results)}
    for claim, net, performed, what in (("fnn-follows-mask", "FNN", None, "the masked op's results"),
                                        ("lstm-invalid", "LSTM", "none", "neither sum nor product")):
        measured[claim] = (_wrong_selector(results, net, performed, what) if net in ran else
                           paper.Finding("no run", "not comparable", f"this run has no {net}"))
    # a network that has not learned its task makes its claims vacuous: the claims about every network
    # go by the worst one, the FNN's and the LSTM's by their own
    own = {"mul-more": "FNN", "fnn-follows-mask": "FNN", "lstm-invalid": "LSTM"}
    out = {}
    for claim, finding in measured.items():
        net = own.get(claim)
        out[claim] = paper.not_learned({claim: finding}, _unmasked(results, net if net in ran else None))[claim]
    return paper.verdict_table("addmul", out)


TABLE2_MASKS = ("full", "add", "¬add", "mul", "¬mul")


def table2(results: dict) -> pd.DataFrame:
    """Table 2 of the paper beside this run: accuracy [%] per network and tested operation (rows)
    under each mask, mean ± std over seeds with the paper's figure in brackets."""
    acc = results["accuracy"]
    acc = acc[acc["mask"].isin(TABLE2_MASKS)]
    stats = acc.groupby(["net", "op", "mask"])["accuracy"].agg(["mean", "std"]).fillna(0) * 100
    rows = sorted({(n, o) for n, o, _ in stats.index}, key=lambda r: (r[0], OPS.index(r[1])))
    table = pd.DataFrame(index=pd.MultiIndex.from_tuples(rows, names=["net", "op"]),
                         columns=list(TABLE2_MASKS), dtype=object)
    for (net, op, m), (mean, std) in stats.iterrows():
        table.loc[(net, op), m] = f"{mean:.0f} ± {std:.0f} (paper {paper.ADDMUL_TABLE2.loc[(net, op), m]})"
    return table
