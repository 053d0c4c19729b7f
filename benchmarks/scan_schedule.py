#!/usr/bin/env python
"""How many steps does the SCAN chapter's IID network need? Test accuracy on ``simple`` against steps.

Trains a SCAN network (a profile's settings, the chapter's loss and batches) from scratch, outside
the run store, and prints its greedy sequence accuracy on the chapter's evaluated ``simple`` test
commands every ``--every`` steps, per seed: a quick profile's training length is sized from where the
accuracy passes the chapter's bar of a learned network and levels off.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/scan_schedule.py --steps 3000 --every 300 --seeds 0 1
"""
from __future__ import annotations

import argparse

import torch

from weightmask.experiments import scan
from weightmask.seq2seq import sequence_accuracy
from weightmask.store import derive_seed
from weightmask.tasks import scan as scan_task
from weightmask.training import step_batches, train_weights


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--net", default="LSTM", choices=scan.NETS)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--every", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    args = parser.parse_args(argv)
    config = scan.PROFILES[args.profile]
    source = scan_task.resolve(config["data"])
    test = scan.evaluated("simple", config["n_test"], config["data"])
    forcing = config["teacher_forcing"] if args.net == "LSTM" else 1.0
    c = config[args.net.lower()]
    print(f"{args.net} at {args.profile} (lr {c['lr']}, batch {config['batch']}), {len(test)} test commands")
    for seed in args.seeds:
        stream = derive_seed("benchmarks.scan_schedule", seed)
        torch.manual_seed(stream)
        net, log = scan.build(args.net, config), []
        batches = step_batches(lambda g: scan._batches(scan.encoded("simple", source)[0], config["batch"], g, forcing),
                               stream)
        train_weights(net, batches, scan._loss, steps=args.steps, lr=c["lr"], clip=config["clip"], log=log,
                      eval_fn=lambda m: {"iid": sequence_accuracy(m, test, "cpu", forced=True)},
                      eval_every=args.every, progress=False)
        print(f"seed {seed}: " + ", ".join(f"{r['step']}: {r['iid']:.1%}" for r in log), flush=True)


if __name__ == "__main__":
    main()
