#!/usr/bin/env python
"""How many steps per task do the permuted-MNIST masks need? Task 1's sharing against steps per task.

Runs the chapter's default variant on tasks 0 and 1 (a profile's settings, ``--steps`` per task each
time, into a fresh run store) and prints, per length, task 1's share of each layer's kept weights
that task 0 also uses, beside what a mask placed at random would share (task 0's density there),
both tasks' accuracy and the CPU seconds: a quick profile's steps are chosen where the shares stop
falling, or the page says how far from settled they are.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pmnist_schedule.py --steps 2000 4000 8000
"""
from __future__ import annotations

import argparse
import tempfile
import time

from weightmask import profiles
from weightmask.experiments import pmnist
from weightmask.store import RunStore


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--steps", type=int, nargs="+", default=[2000, 4000])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for steps in args.steps:
        config = {**profiles.resolve("pmnist", args.profile), "tasks": 2, "variants": ["default"], "steps": steps}
        start = time.process_time()
        with tempfile.TemporaryDirectory() as root:
            res = pmnist.run(config, seeds=[args.seed], store=RunStore(root), device="cpu")
        cpu = time.process_time() - start
        s = res["sharing"]
        layers = ", ".join(f"{r['name']} {r['shared']:.0%} (random {r['chance']:.0%})"
                           for _, r in s[s["task"] == 1].iterrows())
        acc = ", ".join(f"task {r['task']} {r['after training']:.1%}" for _, r in res["accuracy"].iterrows())
        print(f"{steps} steps per task: task 1 shares {layers}; accuracy {acc}; {cpu:.0f} s CPU", flush=True)


if __name__ == "__main__":
    main()
