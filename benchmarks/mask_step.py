"""Time of one mask-training step relative to one plain training step of the same network.

The paper's add/mul FNN (42 -> 2000 x 4 -> 20), batch 128, 4 mask samples, Adam, gradient
clipping 1. Both steps are timed interleaved in one process; the script prints the median
of the per-round ratios. Usage: python benchmarks/mask_step.py [--device cuda] [--rounds 15]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

import weightmask as wm
from weightmask.models import FNN


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
    p.add_argument("--profile", action="store_true",
                   help="also print the operators that take the most time in 10 mask steps")
    args = p.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    net = FNN([42] + [args.hidden] * 4 + [20]).to(device)
    x = torch.randn(args.batch, 42, device=device)
    y = torch.randint(0, 20, (args.batch,), device=device)

    plain_opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def plain_step():
        plain_opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        plain_opt.step()

    masked = wm.MaskedModel(net, n_samples=args.samples)
    mask_opt = torch.optim.Adam(masked.parameters(), lr=1e-2)

    def mask_step():
        mask_opt.zero_grad()
        (F.cross_entropy(masked(x), y) + 1e-4 / args.batch * masked.regularizer()).backward()
        torch.nn.utils.clip_grad_norm_(masked.parameters(), 1.0)
        mask_opt.step()
        # plain_step trains net's weights; the masked step must see them frozen again
        net.requires_grad_(False)

    now = _timer(device)
    ratios, plain_t, mask_t = [], [], []
    for r in range(args.rounds + 2):
        net.requires_grad_(True)
        t0 = now(); plain_step(); t1 = now()
        net.requires_grad_(False)
        mask_step(); t2 = now()
        if r >= 2:  # warm-up rounds
            plain_t.append(t1 - t0)
            mask_t.append(t2 - t1)
            ratios.append((t2 - t1) / (t1 - t0))
    print(f"device {device} ({torch.get_num_threads()} threads), FNN 42-{args.hidden}x4-20, "
          f"batch {args.batch}, {args.samples} samples, {args.rounds} rounds")
    print(f"plain step  median {statistics.median(plain_t) * 1e3:8.1f} ms")
    print(f"mask step   median {statistics.median(mask_t) * 1e3:8.1f} ms")
    print(f"ratio mask/plain: median {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")
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
