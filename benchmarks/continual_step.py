"""Forward + backward of a continual-learning step: the fused mask draw against per-sample sampling.

Permuted MNIST (paper App. C.6) trains weights and masks together with 8 mask samples per
batch. ``ContinualMasks`` draws all samples of all tensors in one fused call; the reference
draws ``weight * gumbel_sigmoid(logits)`` per tensor and sample, the direct transcription
of the estimator. Both run interleaved in one process on the same batch; the script prints
the median of the per-round ratios.
Usage: python benchmarks/continual_step.py [--sizes 784,800,800,64,10] [--rounds 20]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

import weightmask as wm
from weightmask.continual import ContinualMasks
from weightmask.gumbel import gumbel_sigmoid
from weightmask.models import FNN


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="784,800,800,64,10", help="the FNN's layer sizes (paper: 784,800,800,64,10)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    wm.tune_process()  # an entry point: the allocator settings train_mask's callers get (WEIGHTMASK_TUNE=0: off)
    sizes = [int(s) for s in args.sizes.split(",")]
    torch.manual_seed(0)
    net = FNN(sizes)
    cm = ContinualMasks(net, lambda seed: FNN(sizes), reset=[], n_samples=args.samples)
    logits = {n: nn.Parameter(torch.full_like(w, 2.2)) for n, w in net.named_parameters()}
    net.requires_grad_(True)  # weights and masks train together
    x, y = torch.randn(args.batch, sizes[0]), torch.randint(0, sizes[-1], (args.batch,))

    def reference(x):
        outs = []
        for xs in x.chunk(args.samples):
            weights = {n: w * gumbel_sigmoid(logits[n]) for n, w in net.named_parameters()}
            outs.append(functional_call(net, weights, (xs,)))
        return torch.cat(outs)

    def step(forward) -> float:
        t = time.perf_counter()
        F.cross_entropy(forward(x), y).backward()
        return time.perf_counter() - t

    fused_t, ref_t = [], []
    for r in range(args.rounds + 2):
        a, b = step(lambda x: cm.forward(logits, x)), step(reference)
        if r >= 2:  # warm-up rounds
            fused_t.append(a)
            ref_t.append(b)
    ratios = [b / a for a, b in zip(fused_t, ref_t)]
    print(f"FNN {'-'.join(map(str, sizes))}, batch {args.batch}, {args.samples} samples, "
          f"{torch.get_num_threads()} threads, {args.rounds} rounds")
    print(f"fused draw      median {statistics.median(fused_t) * 1e3:8.1f} ms")
    print(f"per-sample draw median {statistics.median(ref_t) * 1e3:8.1f} ms")
    print(f"speed-up: median {statistics.median(ratios):.2f}x (min {min(ratios):.2f}x, max {max(ratios):.2f}x)")


if __name__ == "__main__":
    main()
