"""Time of one mask-training step relative to one plain training step of the same network.

The paper's add/mul FNN (42 -> 2000 x 4 -> 20), batch 128, 4 mask samples, Adam, gradient
clipping 1. Both steps are timed interleaved in one process; the script prints the median
of the per-round ratios. On a GPU the mask step runs as ``train_mask`` runs it, captured as a
CUDA graph, and the ratio is also printed against a captured plain step.
Usage: python benchmarks/mask_step.py [--device cuda] [--rounds 15] [--eager] [--profile]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
import torch.nn.functional as F

import weightmask as wm
from weightmask.models import FNN
from weightmask.step import TrainStep


def _timer(device: torch.device):
    def now() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()
    return now


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--samples", type=int, default=4)
    p.add_argument("--hidden", type=int, default=2000)
    p.add_argument("--eager", action="store_true", help="on a GPU, do not capture the mask step")
    p.add_argument("--profile", action="store_true",
                   help="also print the operators that take the most time in 10 mask steps")
    args = p.parse_args()
    wm.tune_process()  # an entry point: the allocator settings train_mask's callers get (WEIGHTMASK_TUNE=0: off)
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = FNN([42] + [args.hidden] * 4 + [20]).to(device)
    x = torch.randn(args.batch, 42, device=device)
    y = torch.randint(0, 20, (args.batch,), device=device)

    def plain(model, graph):
        """A plain training step of ``model`` (Adam, clipping 1), eager or as a CUDA graph."""
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, capturable=graph)
        return TrainStep(lambda b: (F.cross_entropy(model(b[0]), b[1]), {}), list(model.parameters()),
                         opt, clip=1.0, graph=graph)

    plain_step = plain(net, graph=False)
    # the mask step as train_mask runs it: a CUDA graph on a GPU unless --eager
    graph = device.type == "cuda" and not args.eager
    masked = wm.MaskedModel(net, n_samples=args.samples)
    params = list(masked.parameters())
    alpha = 1e-4 / args.batch
    mask_train_step = TrainStep(
        lambda b: (F.cross_entropy(masked(b[0]), b[1]) + alpha * masked.regularizer(), {}),
        params, torch.optim.Adam(params, lr=1e-2, capturable=graph), clip=1.0, graph=graph)

    def mask_step():
        mask_train_step((x, y))
        # plain_step trains net's weights; the masked step must see them frozen again
        net.requires_grad_(False)

    now = _timer(device)
    ratios, plain_t, mask_t = [], [], []
    for r in range(args.rounds + 2):
        net.requires_grad_(True)
        t0 = now()
        plain_step((x, y))
        t1 = now()
        net.requires_grad_(False)
        mask_step()
        t2 = now()
        if r >= 2:  # warm-up rounds
            plain_t.append(t1 - t0)
            mask_t.append(t2 - t1)
            ratios.append((t2 - t1) / (t1 - t0))
    print(f"device {device} ({torch.get_num_threads()} threads), FNN 42-{args.hidden}x4-20, "
          f"batch {args.batch}, {args.samples} samples, {args.rounds} rounds")
    print(f"plain step  median {statistics.median(plain_t) * 1e3:8.1f} ms")
    print(f"mask step   median {statistics.median(mask_t) * 1e3:8.1f} ms")
    print(f"ratio mask/plain: median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)"
          + (" [mask step as a CUDA graph, plain step eager]" if graph else ""))
    if graph:  # the same comparison with the plain step also captured, for fairness
        twin = copy.deepcopy(net).requires_grad_(True)
        graphed = plain(twin, graph=True)
        ratios = []
        for r in range(args.rounds + 2):
            t0 = now()
            graphed((x, y))
            t1 = now()
            mask_step()
            t2 = now()
            if r >= 2:
                ratios.append((t2 - t1) / (t1 - t0))
        print(f"ratio mask/plain, both as CUDA graphs: median {statistics.median(ratios):.2f}x")
    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        with profile(activities=acts) as prof:
            for _ in range(10):
                mask_step()
            now()
        key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
        print(prof.key_averages().table(sort_by=key, row_limit=15))


if __name__ == "__main__":
    main()
