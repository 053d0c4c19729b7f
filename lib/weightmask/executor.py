"""Executors: the chapters' run-store stages computed in-process or as Ray tasks, into one store.

**The graph, and its granularity.** A chapter's work is a graph of run-store stages: per seed,
weights -> masks per target -> evaluations, the seeds independent of each other. Every chapter
declares its stages (``stages(config, seed, **arguments)``, :mod:`weightmask.stages`), so each stage
is **one task**, waiting for the stages it reads (a mask for its weights): the networks and masks
of one seed run in parallel too. The chapter's ``run`` for the seed closes the seed's part of the
graph, after its stage tasks, reading what they wrote (and computing anything a chapter left
undeclared, in order: a chapter without ``stages`` is one task per seed). A chapter that builds on
others' stages (``BUILDS_ON``) waits for that task of theirs of the same seed. Afterwards the
chapter's ``run()`` over all seeds, in one process, only reads finished stages and makes its tables
(``weightmask run``, or the notebooks of ``make book``).

Stages that two tasks share (a network that two chapters read, a seed-independent stage) are
computed once: the tasks open their store with ``claim=True`` (:mod:`weightmask.store`), so the
second waits for the first and reuses its result. A worker that dies mid-stage releases its claim
with its process; the retry (or any other worker) resumes the stage from its checkpoint.

**Executors.** :class:`LocalExecutor` runs the tasks one after another in this process;
:class:`RayExecutor` submits each as a Ray task (``num_cpus``, and a fraction of a GPU for the
small networks so that several share one) to a local Ray instance or to a cluster
(``address``: ``"auto"``, ``"ray://head:10001"``, or ``$RAY_ADDRESS``). Both retry a failing task a
bounded number of times (an exception; on Ray also a killed or out-of-memory worker), then report it
with its stage, config and traceback; the other tasks finish and their stages are kept. Both print
the progress of the whole graph: tasks done / running / failed, stages computed / reused.

Results are identical whichever executor runs a stage: each stage is seeded from its own key, and
with the same number of threads (a Ray task runs with ``num_cpus`` threads) its files are
byte-identical.
"""
from __future__ import annotations

import os
import socket
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from . import chapters, settings
from .stages import Stage
from .stages import check as check_stages
from .store import RunStore, claimed, release_claims

EXECUTORS = ("local", "ray")
# The share of one GPU that a task of the chapter takes when it runs on a GPU: the small networks
# (the FNNs and LSTMs of the arithmetic and MNIST chapters) leave most of a GPU idle, so four of
# them share one; the sequence-to-sequence and CNN chapters take half, the Mathematics Dataset's
# Transformers a whole one.
GPU_SHARE = {"method": 0.25, "addmul": 0.25, "doubleadd": 0.25, "pmnist": 0.25, "scan": 0.5,
             "mathematics": 1.0, "cnn": 0.5, "trust": 0.5}


@dataclass(frozen=True)
class Task:
    """One node of the graph: one declared stage of one seed of a chapter, or (``stage`` None) the
    chapter's ``run`` for the seed (see the module docstring)."""

    chapter: str
    seed: int
    config: dict[str, Any]
    device: str = "auto"
    arguments: dict[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()  # names of the tasks it waits for
    stage: Stage | None = None

    @property
    def name(self) -> str:
        return f"{self.chapter}/seed{self.seed}" + (f"/{self.stage.name}" if self.stage else "")

    def compute(self, store: RunStore) -> None:
        """Compute the task's stages into ``store``: its declared stage, or the chapter's ``run`` for
        this one seed (its tables are dropped; they are made again from the finished stages)."""
        if self.stage is not None:
            self.stage.compute(self.config, self.seed, store, self.device, **self.stage.kwargs)
            return
        chapters.get(self.chapter).module.run(self.config, seeds=[self.seed], store=store, device=self.device,
                                              **self.arguments)


def graph(plans: Sequence[Any], device: str | None = None) -> list[Task]:
    """The tasks of ``plans`` (:class:`weightmask.plan.Plan`), dependencies first.

    ``device``: what each task asks for where it runs (``"auto"``: a GPU where the worker has
    one); default: each plan's own device."""
    tasks: list[Task] = []
    names = {p.chapter.name for p in plans}
    seeds_of = {p.chapter.name: set(p.seed_ids) for p in plans}
    for p in _ordered(plans):
        declare = getattr(p.chapter.module, "stages", None)
        for seed in p.seed_ids:
            common = dict(chapter=p.chapter.name, seed=seed, config=p.config, device=device or str(p.device),
                          arguments=dict(p.arguments))
            after = tuple(f"{c}/seed{seed}" for c in p.chapter.builds_on if c in names and seed in seeds_of[c])
            declared = ([Task(**common, stage=s) for s in check_stages(declare(p.config, seed, **p.arguments))]
                        if declare else [])
            prefix = f"{p.chapter.name}/seed{seed}/"
            tasks += [replace(t, after=after + tuple(prefix + a for a in t.stage.after)) for t in declared]
            tasks.append(Task(**common, after=after + tuple(t.name for t in declared)))
    return tasks


def _ordered(plans: Sequence[Any]) -> list[Any]:
    """``plans`` with every chapter after those it builds on (stable otherwise)."""
    left, out, placed = list(plans), [], set()
    while left:
        ready = [p for p in left if not set(p.chapter.builds_on) & ({q.chapter.name for q in left} - {p.chapter.name})]
        if not ready:  # a cycle: the registry never has one; keep the given order
            ready = left[:1]
        out += ready
        placed |= {p.chapter.name for p in ready}
        left = [p for p in left if p not in ready]
    return out


class TaskFailed(RuntimeError):
    """A task raised: which task, the stage it was computing (its run directory), the error and
    the traceback (as text, so that it crosses process and machine boundaries)."""

    def __init__(self, task: str, stage: str | None, error: str, trace: str) -> None:
        super().__init__(task, stage, error, trace)
        self.task, self.stage, self.error, self.trace = task, stage, error, trace

    def __str__(self) -> str:
        return f"{self.task} failed in stage {self.stage or '(none open)'}: {self.error}"


def run_task(task: Task, root: str, threads: int | None = None, progress: bool | None = None) -> dict[str, Any]:
    """Compute the stages of ``task`` into the store at ``root`` (the body of every executor's
    task); a summary: the stages it opened (``[experiment, key, computed]``), seconds, where.

    ``threads``: torch's and numba's thread count for the task (the same count gives the same
    bytes). ``progress``: show the training loops' progress bars (default: as the environment
    says). Every claim the task holds is released when it ends, finished or not."""
    start = time.perf_counter()
    if threads:
        import numba
        import torch
        torch.set_num_threads(threads)
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    if progress is not None:
        settings.set_progress(progress)
    store = RunStore(root, claim=True)
    try:
        task.compute(store)
    except Exception as err:
        held = claimed()
        raise TaskFailed(task.name, str(held[-1]) if held else None, f"{type(err).__name__}: {err}",
                         traceback.format_exc()) from None
    finally:
        release_claims()
    return {"task": task.name, "stages": [list(s) for s in store.opened], "seconds": time.perf_counter() - start,
            "host": socket.gethostname(), "pid": os.getpid()}


@dataclass
class Failure:
    """A task that failed after its retries: what a researcher needs to rerun or debug it."""

    task: str
    config: dict[str, Any]
    stage: str | None
    error: str
    trace: str
    attempts: int

    def __str__(self) -> str:
        return (f"FAILED {self.task} after {self.attempts} attempt(s), in stage {self.stage or '(unknown)'}\n"
                f"  error: {self.error}\n  config: {self.config}\n" + _indent(self.trace.rstrip()))


def _indent(text: str) -> str:
    return "\n".join("  | " + line for line in text.splitlines())


@dataclass
class Report:
    """What an executor did: tasks done (their summaries), failed, skipped (a task they wait for failed)."""

    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, Failure] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # task -> the failed task it waited for
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped

    def stages(self) -> tuple[int, int]:
        """Stages computed and reused by the finished tasks."""
        opened = [s for d in self.done.values() for s in d["stages"]]
        computed = sum(1 for s in opened if s[2])
        return computed, len(opened) - computed

    def summary(self) -> str:
        computed, reused = self.stages()
        lines = [f"{len(self.done)} task(s) done ({computed} stage(s) computed, {reused} reused), "
                 f"{len(self.failed)} failed, {len(self.skipped)} skipped, in {self.seconds:.1f} s"]
        lines += [str(f) for f in self.failed.values()]
        lines += [f"SKIPPED {t}: it waits for {d}, which failed" for t, d in self.skipped.items()]
        return "\n".join(lines)


class Progress:
    """Console progress of the whole graph: one line per event, with the totals."""

    def __init__(self, tasks: Sequence[Task], echo: Callable[[str], None] | None = None) -> None:
        self.total = len(tasks)
        self.echo = echo or (lambda text: print(text, flush=True))
        self.running: set[str] = set()
        self.done = self.failed = self.computed = self.reused = 0

    def started(self, name: str) -> None:
        if name not in self.running:
            self.running.add(name)
            self._line(f"started {name}")

    def finished(self, name: str, summary: dict[str, Any]) -> None:
        self.running.discard(name)
        self.done += 1
        new = sum(1 for s in summary["stages"] if s[2])
        self.computed += new
        self.reused += len(summary["stages"]) - new
        self._line(f"done {name} in {summary['seconds']:.1f} s ({new} stage(s) computed, "
                   f"{len(summary['stages']) - new} reused, on {summary['host']})")

    def fail(self, name: str, why: str) -> None:
        self.running.discard(name)
        self.failed += 1
        self._line(f"FAILED {name}: {why}")

    def _line(self, event: str) -> None:
        self.echo(f"[tasks {self.done}/{self.total} done, {len(self.running)} running, {self.failed} failed; "
                  f"stages {self.computed} computed, {self.reused} reused] {event}")


class LocalExecutor:
    """The graph's tasks one after another in this process (dependencies first)."""

    name = "local"

    def __init__(self, retries: int = 0, threads: int | None = None, echo: Callable[[str], None] | None = None,
                 progress: bool | None = None) -> None:
        self.retries, self.threads, self.echo, self.progress = retries, threads, echo, progress

    def execute(self, tasks: Sequence[Task], store: RunStore) -> Report:
        report, shown, start = Report(), Progress(tasks, self.echo), time.perf_counter()
        root = str(Path(store.root).resolve())
        for task in tasks:
            blocked = [d for d in task.after if d in report.failed or d in report.skipped]
            if blocked:
                report.skipped[task.name] = blocked[0]
                shown.fail(task.name, f"skipped: it waits for {blocked[0]}")
                continue
            for attempt in range(1, self.retries + 2):
                shown.started(task.name)
                try:
                    report.done[task.name] = run_task(task, root, self.threads, self.progress)
                except TaskFailed as err:
                    failure = Failure(task.name, task.config, err.stage, err.error, err.trace, attempt)
                    if attempt <= self.retries:
                        shown.running.discard(task.name)
                        shown._line(f"retrying {task.name} ({err.error})")
                        continue
                    report.failed[task.name] = failure
                    shown.fail(task.name, err.error)
                else:
                    shown.finished(task.name, report.done[task.name])
                break
        report.seconds = time.perf_counter() - start
        return report


class RayExecutor:
    """Every task of the graph as a Ray task, dependencies passed as Ray object references.

    ``address``: the cluster to connect to (``"auto"``, ``"ray://host:10001"``); None connects to
    ``$RAY_ADDRESS`` if set, else starts a local Ray instance (``num_cpus`` of it: ``local_cpus``,
    no dashboard). A Ray instance already initialised in this process is used as it is.
    ``cpus``: CPUs per task (and its thread count); ``gpus``: the GPU share per task, default the
    stage's own (``Stage.gpus``), else its chapter's :data:`GPU_SHARE`, where the task's device asks for
    one (``cuda``, or ``auto`` on a cluster with GPUs). ``retries``: how often a failing task is retried
    (an exception, a killed or out-of-memory worker). ``runtime_env``: Ray's, for every task (e.g.
    ``{"py_modules": [...]}``).
    """

    name = "ray"

    def __init__(self, address: str | None = None, retries: int = 2, cpus: int = 1, gpus: float | None = None,
                 local_cpus: int | None = None, runtime_env: dict | None = None,
                 echo: Callable[[str], None] | None = None, progress: bool | None = False,
                 poll: float = 0.5) -> None:
        self.address, self.retries, self.cpus, self.gpus = address, retries, cpus, gpus
        self.local_cpus, self.runtime_env, self.echo, self.progress = local_cpus, runtime_env, echo, progress
        self.poll = poll
        self._tracking: tuple[str, Any] | None = None

    def connect(self) -> Any:
        """Ray, initialised (see the class docstring)."""
        import ray
        if not ray.is_initialized():
            if self.address is None and not settings.ray_address():
                ray.init(num_cpus=self.local_cpus, include_dashboard=False, log_to_driver=True)
            else:
                ray.init(address=self.address, log_to_driver=True)
        return ray

    def resources(self, task: Task, cluster_gpus: float) -> dict[str, float]:
        wants_gpu = task.device.startswith("cuda") or (task.device == "auto" and cluster_gpus > 0)
        own = task.stage.gpus if task.stage is not None and task.stage.gpus is not None else None
        default = own if own is not None else GPU_SHARE.get(task.chapter, 1.0)
        share = (self.gpus if self.gpus is not None else default) if wants_gpu else 0
        return {"num_cpus": self.cpus, "num_gpus": share}

    def execute(self, tasks: Sequence[Task], store: RunStore) -> Report:
        ray = self.connect()
        report, shown, start = Report(), Progress(tasks, self.echo), time.perf_counter()
        root = str(Path(store.root).resolve())
        gpus = ray.cluster_resources().get("GPU", 0)
        tracker, graph_id = self._tracker(ray), uuid.uuid4().hex
        remote = ray.remote(_ray_task)
        refs: dict[str, Any] = {}
        for task in tasks:
            options = dict(name=task.name, max_retries=self.retries, retry_exceptions=True,
                           **self.resources(task, gpus))
            if self.runtime_env:
                options["runtime_env"] = self.runtime_env
            deps = [refs[d] for d in task.after if d in refs]
            refs[task.name] = remote.options(**options).remote(task, root, self.cpus, self.progress,
                                                               (tracker, graph_id), *deps)
        by_ref = {ref: name for name, ref in refs.items()}
        pending = list(by_ref)
        asked = tracker.started.remote(graph_id)  # never waited for: the loop reads it once it is there
        try:
            self._collect(ray, pending, by_ref, asked, tracker, graph_id, tasks, report, shown)
        except KeyboardInterrupt:  # the driver stops: so do its tasks (finished stages are kept)
            for ref in by_ref:
                ray.cancel(ref, force=True)
            raise
        finally:
            tracker.forget.remote(graph_id)
        report.seconds = time.perf_counter() - start
        return report

    def _collect(self, ray: Any, pending: list, by_ref: dict, asked: Any, tracker: Any, graph_id: str,
                 tasks: Sequence[Task], report: Report, shown: Progress) -> None:
        """Wait for every task, printing the progress and filling ``report``."""
        from ray.exceptions import RayError, RayTaskError

        config = {t.name: t.config for t in tasks}
        after = {t.name: t.after for t in tasks}
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=self.poll)
            if ready and pending:
                more, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
                ready += more
            if ray.wait([asked], timeout=0)[0]:
                for name in ray.get(asked):
                    if name not in report.done and name not in report.failed and name not in report.skipped:
                        shown.started(name)
                asked = tracker.started.remote(graph_id)
            for ref in ready:
                name = by_ref[ref]
                try:
                    report.done[name] = ray.get(ref)
                except RayError as err:
                    blocked = [d for d in after[name] if d in report.failed or d in report.skipped]
                    cause = err.cause if isinstance(err, RayTaskError) else None
                    if blocked or (isinstance(cause, TaskFailed) and cause.task != name):
                        report.skipped[name] = blocked[0] if blocked else cause.task
                        shown.fail(name, f"skipped: it waits for {report.skipped[name]}")
                        continue
                    if isinstance(cause, TaskFailed):
                        failure = Failure(name, config[name], cause.stage, cause.error, cause.trace, self.retries + 1)
                    else:  # the worker died: killed, out of memory, its node lost
                        failure = Failure(name, config[name], None, f"{type(err).__name__}: worker lost",
                                          str(err), self.retries + 1)
                    report.failed[name] = failure
                    shown.fail(name, failure.error)
                else:
                    shown.finished(name, report.done[name])

    def _tracker(self, ray: Any) -> Any:
        """The actor that tasks tell when they start (what 'running' counts): one per Ray job,
        kept between graphs, since starting it takes a worker process."""
        job = ray.get_runtime_context().get_job_id()
        if self._tracking is None or self._tracking[0] != job:
            self._tracking = (job, _tracker_class(ray).options(num_cpus=0).remote())
        return self._tracking[1]


def _ray_task(task: Task, root: str, threads: int, progress: bool | None, tracking: tuple[Any, str],
              *after: Any) -> dict:
    """A Ray task: tell the tracker it started, then :func:`run_task` (``after``: the results of
    the tasks it waited for, unused)."""
    tracker, graph_id = tracking
    tracker.start.remote(graph_id, task.name)
    return run_task(task, root, threads, progress)


_TRACKER = None


def _tracker_class(ray: Any) -> Any:
    """The tracker actor's class: the names of the tasks that started, per graph."""
    global _TRACKER
    if _TRACKER is None:
        @ray.remote
        class Tracker:
            def __init__(self) -> None:
                self.names: dict[str, list[str]] = {}

            def start(self, graph_id: str, name: str) -> None:
                self.names.setdefault(graph_id, []).append(name)

            def started(self, graph_id: str) -> list[str]:
                return list(self.names.get(graph_id, []))

            def forget(self, graph_id: str) -> None:
                self.names.pop(graph_id, None)
        _TRACKER = Tracker
    return _TRACKER


def make(name: str = "local", address: str | None = None, retries: int | None = None, **kwargs: Any):
    """The executor called ``name`` (``local`` | ``ray``)."""
    if name == "local":
        if address is not None:
            raise ValueError("--address is for --executor ray")
        return LocalExecutor(retries=0 if retries is None else retries, **kwargs)
    if name == "ray":
        try:
            import ray  # noqa: F401
        except ImportError as err:  # pragma: no cover - ray is a dependency
            raise ValueError(f"--executor ray needs the package ray ({err})") from err
        return RayExecutor(address=address, retries=2 if retries is None else retries, **kwargs)
    raise ValueError(f"unknown executor {name!r}; choose one of {EXECUTORS}")


def execute(plans: Sequence[Any], store: RunStore, executor: Any = "local", device: str | None = None) -> Report:
    """Compute every stage of ``plans`` into ``store`` with ``executor`` (a name or an executor);
    print the report; the report. The chapters' tables then come from ``plan.run(store)``, which
    only reads the finished stages."""
    runner = make(executor) if isinstance(executor, str) else executor
    report = runner.execute(graph(plans, device), store)
    print(report.summary(), file=sys.stdout if report.ok else sys.stderr, flush=True)
    return report
