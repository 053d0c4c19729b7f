#!/usr/bin/env python
"""How many steps does an arithmetic network need to learn its task? Accuracy against steps.

Trains a chapter's network (add/mul or double addition, at a profile's settings, with overrides)
from scratch, outside the run store, and prints the accuracy per operation / pair every ``--every``
steps: a quick profile's training length is sized from where every accuracy has converged.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/train_schedule.py doubleadd LSTM --steps 8000 --lrs 1e-3 3e-3
"""
from __future__ import annotations

import argparse

import torch

from weightmask.experiments import addmul, arith_nets, doubleadd
from weightmask.training import train_weights


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("problem", choices=["addmul", "doubleadd"])
    parser.add_argument("net", help="addmul: FNN | LSTM; doubleadd: FNN | LSTM | 'LSTM (forced)'")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.problem == "doubleadd":
        cfg = doubleadd.nets(doubleadd.PROFILES[args.profile])[args.net]
    else:
        p = addmul.PROFILES[args.profile]
        cfg = {**p, "arch": "fnn"} if args.net == "FNN" else {**p, **p["lstm"], "arch": "lstm"}
    for lr in args.lrs:
        torch.manual_seed(args.seed)
        batches, loss_fn, evaluate = arith_nets.task(args.problem, cfg, "full", args.seed, "cpu")
        net, log = arith_nets.build(args.problem, cfg), []
        train_weights(net, batches, loss_fn, steps=args.steps, lr=lr, eval_fn=evaluate, eval_every=args.every,
                      log=log, progress=False)
        for row in log:
            print(f"lr={lr:g} step={row['step']} " + " ".join(f"{k}={v:.3f}" for k, v in row.items()
                                                                 if k.startswith("acc_")), flush=True)


if __name__ == "__main__":
    main()
