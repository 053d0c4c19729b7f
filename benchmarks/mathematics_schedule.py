#!/usr/bin/env python
"""How many steps does the Mathematics chapter's Transformer need? Validation accuracy against steps.

Trains the chapter's Transformer on one task (a profile's settings, its loss, optimizer and
batches; ``--set`` overrides a setting) from scratch, outside the run store, and prints the
sequence accuracy on each difficulty's validation questions every ``--every`` steps, with the
seconds spent: a quick profile's size and length are chosen from where the hard questions pass
the chapter's bar of a learned network, or the measurement says that no CPU budget reaches it.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mathematics_schedule.py --task arithmetic__add_or_sub \
        --steps 6000 --every 500 --set d_model=64 --set lr=3e-4
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from weightmask import seq2seq
from weightmask.experiments import mathematics
from weightmask.models import Seq2SeqTransformer
from weightmask.store import derive_seed
from weightmask.tasks.mathematics import DIFFICULTIES
from weightmask.training import step_batches, train_weights


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="arithmetic__add_or_sub")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting of the profile (d_model, d_ff, heads, layers, lr, n_train) or of the task "
                             "(batch, warmup), as JSON")
    args = parser.parse_args(argv)
    config = {**mathematics.PROFILES[args.profile]}
    task = dict(config["tasks"].get(args.task) or mathematics.PROFILES["paper"]["tasks"][args.task])
    for item in args.set:
        key, _, value = item.partition("=")
        (task if key in task else config)[key] = json.loads(value)
    config["tasks"] = {args.task: task}
    d = mathematics.data(args.task, config)
    v = len(mathematics.vocabulary())
    torch.manual_seed(derive_seed("benchmarks.mathematics_schedule", args.seed))
    net = Seq2SeqTransformer(v, v, config["d_model"], config["heads"], config["d_ff"], config["layers"],
                             config["dropout"], tie=True)
    optimizer, scheduler = mathematics._adam({**config, "warmup": task["warmup"]})
    print(f"{args.task} at {args.profile} with {args.set}: {sum(p.numel() for p in net.parameters())} parameters, "
          f"{len(d['train']['all'])} training samples", flush=True)
    start, evaluated = time.perf_counter(), []

    def evaluate(model):
        evaluated.append(len(evaluated) + 1)
        out = {diff: seq2seq.sequence_accuracy(model, d["validation"][diff], "cpu", forced=True)
               for diff in DIFFICULTIES}
        print(f"step {evaluated[-1] * args.every}: " + ", ".join(f"{k} {a:.1%}" for k, a in out.items())
              + f" ({time.perf_counter() - start:.0f} s)", flush=True)
        return out

    train_weights(net, step_batches(lambda g: seq2seq.batches(d["train"]["all"], task["batch"], g), args.seed),
                  mathematics._loss, steps=args.steps, optimizer=optimizer, scheduler=scheduler, clip=1.0,
                  eval_fn=evaluate, eval_every=args.every, progress=False)


if __name__ == "__main__":
    main()
