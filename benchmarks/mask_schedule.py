#!/usr/bin/env python
"""How long must a mask train before it settles? Density and undecided share against steps.

Trains the full-task mask of the add/mul FNN (the quick profile's trained network, read from the
run store) at a few learning rates and prints, every ``--every`` steps, the share of weights kept
(sigmoid(l) > 0.5), the share still undecided (0.1 < sigmoid(l) < 0.9) and the accuracy per
operation. A quick mask schedule is sized from where these curves flatten, not from a verdict.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mask_schedule.py --steps 8000 --lrs 1e-2 3e-2 1e-1
"""
from __future__ import annotations

import argparse

import torch

from weightmask.experiments import addmul, arith_nets
from weightmask.masking import MaskedModel
from weightmask.store import RunStore
from weightmask.training import train_mask


def state(masked: MaskedModel, evaluate) -> dict:
    """Kept and undecided shares over every masked weight, and the accuracy per operation."""
    p = torch.cat([v.flatten() for v in masked.probabilities().values()])
    return {"kept": float((p > 0.5).float().mean()), "undecided": float(((p > 0.1) & (p < 0.9)).float().mean()),
            **evaluate(masked)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick", choices=list(addmul.PROFILES))
    parser.add_argument("--store", default=None, help="run store holding the trained network (default: results/)")
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-2, 3e-2, 1e-1])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = addmul.PROFILES[args.profile]
    net, _ = arith_nets.network("addmul", config, args.seed, RunStore(args.store), "cpu")
    batches, loss_fn, evaluate = arith_nets.task("addmul", config, "full", args.seed, "cpu")
    print("lr,step,kept,undecided,acc_add,acc_mul", flush=True)
    for lr in args.lrs:
        torch.manual_seed(args.seed)
        masked = MaskedModel(net, n_samples=config["n_samples"])
        log: list[dict] = []
        train_mask(masked, batches, loss_fn, steps=args.steps, beta=config["beta"], batch_size=config["batch"],
                   lr=lr, eval_fn=lambda m: state(m, evaluate), eval_every=args.every, log=log, progress=False)
        for row in log:
            print(f"{lr:g},{row['step']},{row['kept']:.4f},{row['undecided']:.4f},{row['acc_add']:.4f},"
                  f"{row['acc_mul']:.4f}", flush=True)


if __name__ == "__main__":
    main()
