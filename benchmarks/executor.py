#!/usr/bin/env python
"""The Ray executor's wall time relative to the local one, for one chapter's smoke graph.

Runs the graph of ``--chapter`` at the smoke profile (a task per stage of ``--seeds`` seeds) into a
fresh run store, alternately with the local executor (in this process, one task after another,
``--local-threads`` threads: default 1, as each Ray task has; two threads of these small networks on
busy cores are often slower than one) and with the Ray executor (a local Ray instance of ``--cpus``
CPUs, one CPU and one thread per task),
``--repeat`` times each, and prints the median walls, their ratio and the Ray executor's overhead
per stage. Ray's start-up (the instance, then the first tasks' worker processes, which import
torch) is measured and printed apart: it is paid once per cluster, not per graph.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/executor.py --chapter method --seeds 4 --cpus 2
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numba
import torch

from weightmask import executor, plan
from weightmask.store import RunStore


def timed(runner, tasks) -> tuple[float, executor.Report]:
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        report = runner.execute(tasks, RunStore(root))
        wall = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(report.summary())
    return wall, report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chapter", default="method")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--local-threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    os.environ["WEIGHTMASK_PROGRESS"] = "0"
    torch.set_num_threads(args.local_threads)
    numba.set_num_threads(min(args.local_threads, numba.config.NUMBA_NUM_THREADS))
    tasks = executor.graph([plan.prepare(args.chapter, profile="smoke", seeds=args.seeds)], device="cpu")
    quiet = lambda line: None

    import ray
    start = time.perf_counter()
    ray.init(address="local", num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
    init = time.perf_counter() - start
    local, remote = executor.LocalExecutor(echo=quiet), executor.RayExecutor(echo=quiet)
    timed(local, tasks)  # warm: imports, numba's compiled kernels
    cold, _ = timed(remote, tasks)  # the workers start and import torch
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    for _ in range(args.repeat):
        wall, report = timed(local, tasks)
        walls["local"].append(wall)
        wall, _ = timed(remote, tasks)
        walls["ray"].append(wall)
    ray.shutdown()

    stages = sum(len(d["stages"]) for d in report.done.values())
    loc, rem = statistics.median(walls["local"]), statistics.median(walls["ray"])
    ideal = loc / min(args.cpus, len(tasks))  # the local wall spread perfectly over the CPUs
    print(f"chapter {args.chapter}, smoke, {len(tasks)} tasks, {stages} stages, {args.cpus} CPUs, "
          f"median of {args.repeat}")
    runs = {k: [round(w, 2) for w in v] for k, v in walls.items()}
    print(f"local executor (in-process, {args.local_threads} thread(s)): {loc:.2f} s  {runs['local']}")
    print(f"ray executor ({args.cpus} workers, 1 thread each): {rem:.2f} s  {runs['ray']}")
    print(f"ray / local wall: {rem / loc:.2f}")
    print(f"ray overhead per stage over a perfect split of the local wall: {(rem - ideal) / stages * 1000:.0f} ms")
    print(f"paid once: ray.init {init:.1f} s, first graph with fresh workers {cold:.2f} s")


if __name__ == "__main__":
    main()
