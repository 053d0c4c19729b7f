"""Executors and the shared run store: many writers, claims, the Ray executor against the local one.

The store tests need no Ray. The Ray tests share one local Ray instance (2 CPUs, no dashboard),
started once per session by the ``ray_cluster`` fixture, so that Ray's start-up is paid once.
Faults are injected by subclasses of :class:`weightmask.executor.Task` defined here, sent to Ray's
workers by value.
"""
import builtins
import multiprocessing
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from weightmask import cli, executor, plan
from weightmask.executor import LocalExecutor, RayExecutor, Task
from weightmask.store import Run, RunStore, claimed, release_claims

FORK = multiprocessing.get_context("fork")


def stage_files(root: Path) -> dict[str, bytes]:
    """Every file of every stage, by its path in the store, but the DONE marker (its time) and
    the manifest (which records that time)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/*/*"))
            if p.name not in ("DONE", "manifest.json")}


# --- the store with many writers -------------------------------------------------------------

def _write_many(root: str, worker: int, n: int) -> None:
    run = Run(Path(root) / "exp" / "key")
    for i in range(n):
        run.save_json(f"w{worker}-{i}.json", {"worker": worker, "i": i})


def test_many_writers_of_one_run_lose_no_record(tmp_path, recwarn):
    workers = [FORK.Process(target=_write_many, args=(str(tmp_path), w, 25)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    assert [w.exitcode for w in workers] == [0] * 4
    run = Run(tmp_path / "exp" / "key")
    assert len(run._manifest()) == 100  # without the lock, writers overwrite each other's records
    assert all(run.load_json(f"w{w}-{i}.json") == {"worker": w, "i": i} for w in range(4) for i in range(25))
    assert not [w for w in recwarn if "discarding" in str(w.message)]


def _stage(store: RunStore) -> Run:
    """The one stage the claim tests open (the same key in every process)."""
    return store.run("exp", {"a": 1}, 0, code=_stage)


def _hold_then_finish(root: str, ready, go) -> None:
    run = _stage(RunStore(root, claim=True))
    ready.set()
    go.wait(60)
    run.save_json("result.json", {"by": os.getpid()})
    run.mark_done()


def test_a_claimed_stage_is_waited_for_and_reused_not_run_twice(tmp_path):
    ready, go = FORK.Event(), FORK.Event()
    holder = FORK.Process(target=_hold_then_finish, args=(str(tmp_path), ready, go))
    holder.start()
    try:
        assert ready.wait(60)
        threading.Timer(1.0, go.set).start()
        store = RunStore(tmp_path, claim=True)
        start = time.perf_counter()
        run = _stage(store)  # waits for the holder
        waited = time.perf_counter() - start
        holder.join(60)
        assert waited > 0.8 and run.done
        assert store.opened == [("exp", run.key, False)]  # found done: not computed again
        assert run.load_json("result.json") == {"by": holder.pid}
        assert claimed() == []  # nothing left to hold
    finally:
        go.set()
        holder.join(60)
        release_claims()


def _die_mid_stage(root: str) -> None:
    run = _stage(RunStore(root, claim=True))
    run.save_checkpoint({"step": 7})
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_that_dies_mid_stage_leaves_its_checkpoint_to_the_next(tmp_path):
    dead = FORK.Process(target=_die_mid_stage, args=(str(tmp_path),))
    dead.start()
    dead.join(60)
    assert dead.exitcode == -signal.SIGKILL
    try:
        store = RunStore(tmp_path, claim=True)
        start = time.perf_counter()
        run = _stage(store)  # the OS released the dead worker's claim: no wait
        assert time.perf_counter() - start < 4
        assert store.opened == [("exp", run.key, True)] and claimed() == [run.dir]
        assert run.load_checkpoint() == {"step": 7}
        run.mark_done()
        assert claimed() == []
    finally:
        release_claims()


# --- the graph ---------------------------------------------------------------------------------

def test_the_graph_is_one_task_per_chapter_and_seed_after_the_chapters_it_builds_on():
    plans = [plan.prepare("trust", profile="smoke"), plan.prepare("method", profile="smoke", seeds=2),
             plan.prepare("scan", profile="smoke")]
    tasks = executor.graph(plans, device="cpu")
    names = [t.name for t in tasks]
    assert "method/seed0" in names and "method/seed1" in names
    trust = next(t for t in tasks if t.chapter == "trust")
    assert "scan/seed0" in trust.after  # trust reads the SCAN chapter's stages of its seed
    assert names.index("scan/seed0") < names.index(trust.name)  # dependencies first
    assert all(t.device == "cpu" for t in tasks)


def test_a_chapter_that_declares_its_stages_gets_a_task_per_stage_then_its_run():
    tasks = executor.graph([plan.prepare("doubleadd", profile="smoke")], device="cpu")
    by = {t.name: t for t in tasks}
    mask = by["doubleadd/seed0/LSTM (forced): mask pair1"]
    assert mask.after == ("doubleadd/seed0/LSTM (forced): weights",)
    assert by["doubleadd/seed0/FNN, I/O copied: mask pair2"].after == ("doubleadd/seed0/FNN: weights",)
    last = tasks[-1]
    assert last.name == "doubleadd/seed0" and last.stage is None
    assert set(last.after) == set(by) - {last.name}  # the run reads them all


@pytest.mark.parametrize("chapter", ["doubleadd", "cnn", "scan", "mathematics", "pmnist"])
def test_declared_stages_are_the_ones_the_chapter_opens_with_the_same_bytes(tmp_path, one_thread, chapter):
    plans = [plan.prepare(chapter, profile="smoke")]
    tasks = executor.graph(plans, "cpu")
    assert len(tasks) > 2 and tasks[0].stage is not None
    report = LocalExecutor(echo=lambda line: None).execute(tasks, RunStore(tmp_path / "tasks"))
    assert report.ok, report.summary()
    # the chapter's run for the seed finds every stage computed by the stage tasks
    opened = report.done[f"{chapter}/seed0"]["stages"]
    assert opened and not any(s[2] for s in opened)
    plans[0].run(RunStore(tmp_path / "direct"))
    assert stage_files(tmp_path / "tasks") == stage_files(tmp_path / "direct")


def test_trusts_declared_stages_give_the_bytes_of_its_run(tmp_path, one_thread):
    plans = [plan.prepare("trust", profile="smoke")]
    tasks = executor.graph(plans, "cpu")
    assert sum(t.stage is not None for t in tasks) >= 10  # the sweep's networks and masks, SCAN, the pairs
    report = LocalExecutor(echo=lambda line: None).execute(tasks, RunStore(tmp_path / "tasks"))
    assert report.ok, report.summary()
    plans[0].run(RunStore(tmp_path / "direct"))
    assert stage_files(tmp_path / "tasks") == stage_files(tmp_path / "direct")


def test_a_stage_must_be_a_module_level_function_and_wait_only_for_earlier_stages():
    from weightmask.stages import Stage, check
    with pytest.raises(ValueError, match="module-level function"):
        Stage("w", lambda config, seed, store, device: None)
    with pytest.raises(ValueError, match=r"waits for \['w'\]"):
        check([Stage("m", stage_files, after=("w",)), Stage("w", stage_files)])
    with pytest.raises(ValueError, match="declared twice"):
        check([Stage("w", stage_files), Stage("w", stage_files)])


def test_ray_tasks_ask_for_a_share_of_a_gpu_only_where_their_device_is_one():
    runner = RayExecutor()
    small, big = Task("addmul", 0, {}, "cuda"), Task("mathematics", 0, {}, "auto")
    assert runner.resources(small, cluster_gpus=0) == {"num_cpus": 1, "num_gpus": 0.25}
    assert runner.resources(big, cluster_gpus=0) == {"num_cpus": 1, "num_gpus": 0}  # auto, no GPU: CPU
    assert runner.resources(big, cluster_gpus=4) == {"num_cpus": 1, "num_gpus": 1.0}
    assert runner.resources(Task("addmul", 0, {}, "cpu"), cluster_gpus=4)["num_gpus"] == 0
    assert RayExecutor(cpus=4, gpus=0.5).resources(small, 1) == {"num_cpus": 4, "num_gpus": 0.5}
    shares = {t.name.split("/")[-1]: runner.resources(t, 1)["num_gpus"]
              for t in executor.graph([plan.prepare("trust", profile="smoke")], "cuda")}
    assert shares["SCAN Transformer: mask"] == 0.5 and shares["double-add FNN (small): weights"] == 0.25  # its own


def test_executor_options_are_checked():
    with pytest.raises(ValueError, match="unknown executor"):
        executor.make("slurm")
    with pytest.raises(ValueError, match="--address"):
        executor.make("local", address="auto")
    assert cli.main(["run", "method", "--profile", "smoke", "--address", "auto"]) == 2


# --- faults, injected by tasks defined here (sent to Ray's workers by value) ---------------------

def _as(cls, task: Task, **extra):
    return cls(**{f.name: getattr(task, f.name) for f in fields(Task)}, **extra)


@dataclass(frozen=True)
class FailingMask(Task):
    """The mask stage raises, on every attempt (each attempt leaves a file in ``attempts``)."""

    attempts: str = ""

    def compute(self, store):
        from weightmask.experiments import arith_nets
        original = arith_nets.train_mask

        def failing(*args, **kwargs):
            Path(self.attempts, f"{os.getpid()}-{time.time_ns()}").touch()
            raise RuntimeError("injected failure in the mask stage")
        arith_nets.train_mask = failing
        try:
            super().compute(store)
        finally:
            arith_nets.train_mask = original


@dataclass(frozen=True)
class KilledAfterCheckpoint(Task):
    """SIGKILLs its worker right after the first checkpoint of the weight stage, once (``marker``);
    the next attempt notes the step it resumed from in ``marker``.resumed."""

    marker: str = ""

    def compute(self, store):
        marker, save, load = Path(self.marker), Run.save_checkpoint, Run.load_checkpoint

        def save_then_die(run, state):
            save(run, state)
            if not marker.exists():
                marker.write_text(f"killed at step {state['step']}")
                os.kill(os.getpid(), signal.SIGKILL)

        def load_noted(run, *args, **kwargs):
            state = load(run, *args, **kwargs)
            if state is not None:
                Path(f"{marker}.resumed").write_text(str(state["step"]))
            return state
        Run.save_checkpoint, Run.load_checkpoint = save_then_die, load_noted
        try:
            super().compute(store)
        finally:
            Run.save_checkpoint, Run.load_checkpoint = save, load


@pytest.fixture(autouse=True)
def _print_kept():
    """Ray's tqdm integration replaces ``builtins.print`` in the driver; put it back after each test, so
    that later tests (e.g. a pickle payload that names ``print``) see Python's own."""
    kept = builtins.print
    yield
    builtins.print = kept


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray instance for the session: 2 CPUs, no dashboard. ``ray.init`` sets variables of
    the environment, ``sys.excepthook`` and a SIGTERM handler: they are put back afterwards."""
    ray = pytest.importorskip("ray")
    environ, hook, sigterm = dict(os.environ), sys.excepthook, signal.getsignal(signal.SIGTERM)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray
    ray.shutdown()
    os.environ.clear()
    os.environ.update(environ)
    sys.excepthook = hook
    signal.signal(signal.SIGTERM, sigterm)


def _executor(name: str, request, retries: int):
    if name == "ray":
        request.getfixturevalue("ray_cluster")
        return RayExecutor(retries=retries, echo=lambda line: None)
    request.getfixturevalue("one_thread")
    return LocalExecutor(retries=retries, echo=lambda line: None)


@pytest.mark.parametrize("name", ["local", "ray"])
def test_a_failing_task_is_retried_then_reported_and_the_others_are_kept(tmp_path, request, name):
    runner = _executor(name, request, retries=1)
    plans = [plan.prepare("method", profile="smoke", seeds=2)]
    tasks = [Task("method", seed, plans[0].config, "cpu") for seed in (0, 1)]  # a task per seed: run() in each
    attempts = tmp_path / "attempts"
    attempts.mkdir()
    tasks[1] = _as(FailingMask, tasks[1], attempts=str(attempts))
    tasks.append(Task("method", 2, tasks[0].config, "cpu", after=("method/seed1",)))  # waits for the failing one
    store = RunStore(tmp_path / "store")
    report = runner.execute(tasks, store)

    assert list(report.done) == ["method/seed0"] and list(report.failed) == ["method/seed1"]
    assert report.skipped == {"method/seed2": "method/seed1"} and not report.ok
    failure = report.failed["method/seed1"]
    assert len(list(attempts.iterdir())) == 2 == failure.attempts  # one retry, then reported
    assert "addmul.mask" in failure.stage and failure.config == plans[0].config
    assert failure.error == "RuntimeError: injected failure in the mask stage"
    assert "Traceback" in failure.trace and "failing" in failure.trace
    assert "FAILED method/seed1" in report.summary()
    kept = sorted((r.info["experiment"], r.info["seed"]) for r in store.runs() if r.done)
    assert kept == [("addmul.mask", 0), ("addmul.weights", 0), ("addmul.weights", 1)]
    assert claimed() == []


def test_ray_executor_writes_the_same_bytes_as_the_local_one(tmp_path, ray_cluster, one_thread, capsys):
    local, ray = tmp_path / "local", tmp_path / "ray"
    args = ["run", "method", "--profile", "smoke", "--seeds", "2", "--results"]
    assert cli.main(args + [str(local)]) == 0
    local_out = capsys.readouterr().out
    assert cli.main(args + [str(ray), "--executor", "ray"]) == 0
    ray_out = capsys.readouterr().out
    # per seed: the weights' task, the mask's (reading the weights) and the run's (reading both)
    assert "[tasks 6/6 done, 0 running, 0 failed; stages 4 computed, 6 reused]" in ray_out
    files = stage_files(local)
    assert len(files) == 2 * (3 + 4)  # per seed: weights (config, weights, log), mask (config, mask, logits, log)
    assert stage_files(ray) == files
    assert ray_out.endswith(local_out)  # the same verdicts, made from the same stages


def test_a_killed_ray_worker_is_replaced_and_the_stage_resumes_to_the_same_bytes(tmp_path, ray_cluster,
                                                                                 one_thread):
    # 1100 weight steps: the loop checkpoints at step 1000, and the worker is killed right after
    plans = [plan.prepare("method", profile="smoke", seeds=1, sets={"train_steps": 1100})]
    LocalExecutor(echo=lambda line: None).execute(executor.graph(plans, "cpu"), RunStore(tmp_path / "local"))
    marker = tmp_path / "killed"
    tasks = [_as(KilledAfterCheckpoint, t, marker=str(marker)) for t in executor.graph(plans, "cpu")]
    report = RayExecutor(retries=1, echo=lambda line: None).execute(tasks, RunStore(tmp_path / "ray"))
    assert report.ok, report.summary()
    assert marker.read_text() == "killed at step 1000"
    assert Path(f"{marker}.resumed").read_text() == "1000"  # the next worker resumed, not restarted
    assert stage_files(tmp_path / "ray") == stage_files(tmp_path / "local")
