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

from .. import paper
from ..mask import Mask
from ..masking import MaskedModel
from ..metrics import sharing
from ..store import RunStore
from ..tasks import arithmetic
from . import arith_fnn, seed_ids

OPS = arithmetic.OPS
PERFORMED = ("add", "mul", "none")
PAIRS = ((OPS[0], OPS[1]), (OPS[1], OPS[0]))  # (an operation, the other one)
SEVERAL = 2.0  # "several times more weights": at least this ratio


def _weight_layers(masked: MaskedModel) -> list[str]:
    """The weight matrices in network order (biases left out, as in the paper's figures)."""
    return [n for n in masked.names if n.endswith("weight")]


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


def run(config: dict, seeds: int | Iterable[int] | None = None, store: RunStore | None = None,
        device="auto") -> dict:
    """Tables ``sharing``, ``counts``, ``accuracy``, ``performed`` (one row per seed and entry)."""
    store = store or RunStore()
    tables: dict[str, list[dict]] = {"sharing": [], "counts": [], "accuracy": [], "performed": []}
    for seed in seed_ids(seeds, config["seeds"]):
        net, _ = arith_fnn.network(config, seed, store, device)
        masked, full, _ = arith_fnn.mask(net, config, seed, store, device)
        op_masks = {o: arith_fnn.mask(net, config, seed, store, device, ops=(o,))[1] for o in OPS}
        layers = _weight_layers(masked)
        for o, other in PAIRS:
            share = sharing(op_masks[o].select(layers), op_masks[other].select(layers))
            tables["sharing"] += [{"seed": seed, "layer": i + 1, "name": r.name, "op": o,
                                   "shared": r.proportion, "kept": r.kept}
                                  for i, r in enumerate(share.itertuples())]
        for o in OPS:
            per = op_masks[o].select(layers).per_layer()
            tables["counts"] += [{"seed": seed, "layer": i + 1, "name": r.name, "op": o, "kept": r.kept,
                                  "total": r.total} for i, r in enumerate(per.itertuples())]
        masks = {"none": None, "full": full}
        for o in OPS:
            masks[o], masks["¬" + o] = op_masks[o], ~op_masks[o]
        acc, performed = _evaluate(masked, masks, next(net.parameters()).device)
        tables["accuracy"] += [{"seed": seed, **r} for r in acc]
        tables["performed"] += [{"seed": seed, **r} for r in performed]
    return {k: pd.DataFrame(v) for k, v in tables.items()}


def verdicts(results: dict) -> pd.DataFrame:
    """The chapter's claims beside the paper's, each with a verdict computed from ``results``."""
    sh = results["sharing"].groupby(["op", "layer"])["shared"].mean().unstack("layer")
    last = sh.columns.max()
    ends, hidden = sh[[1, last]].mean(axis=1), sh.drop(columns=[1, last]).mean(axis=1)
    more = bool((ends > hidden).all()) and sh.shape[1] > 2
    shared = ("; ".join(f"{o}: first/last layers {ends[o]:.0%}, hidden {hidden[o]:.0%}" for o in sh.index),
              "reproduced" if more else "not reproduced",
              "both operations share a larger part of their weights in the first and last layers"
              if more else "the hidden layers share as much as or more than the first and last")
    kept = results["counts"].groupby(["seed", "op"])["kept"].sum().unstack("op")
    ratio = float((kept["mul"] / kept["add"]).mean())
    several = (f"mul / add weights = {ratio:.1f}x", "reproduced" if ratio >= SEVERAL else "not reproduced",
               f"at least {SEVERAL:g}x counts as several times")
    p = results["performed"].groupby(["mask", "selector", "performed"])["fraction"].mean()
    wrong = {o: float(p[(o, other, o)]) for o, other in PAIRS}
    follows = all(v > 0.5 for v in wrong.values())
    mask_op = ("; ".join(f"{o} mask, {other} selector: performs {o} in {wrong[o]:.0%}"
                         for o, other in PAIRS),
               "reproduced" if follows else "not reproduced",
               "under each op's mask most answers to the other op's inputs are that op's results"
               if follows else "under at least one mask most answers are not the masked op's results")
    acc = results["accuracy"]
    unmasked = float(acc[acc["mask"] == "none"].groupby("op")["accuracy"].mean().min())
    return paper.verdict_table("addmul", paper.not_learned(
        {"shared-ends": shared, "mul-more": several, "fnn-follows-mask": mask_op}, unmasked))


TABLE2_MASKS = ("full", "add", "¬add", "mul", "¬mul")


def table2(results: dict) -> pd.DataFrame:
    """Table 2 of the paper beside this run: accuracy [%] per tested operation (rows) and mask."""
    acc = results["accuracy"]
    acc = acc[acc["mask"].isin(TABLE2_MASKS)]
    stats = acc.groupby(["op", "mask"])["accuracy"].agg(["mean", "std"]).fillna(0) * 100
    table = pd.DataFrame(index=pd.Index(OPS, name="op"), columns=list(TABLE2_MASKS), dtype=object)
    for (op, m), (mean, std) in stats.iterrows():
        table.loc[op, m] = f"{mean:.0f} ± {std:.0f} (paper {paper.ADDMUL_TABLE2.loc[op, m]})"
    return table
