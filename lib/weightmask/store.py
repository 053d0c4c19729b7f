"""Run store: keyed, atomic, integrity-checked storage of experiment results.

A run is identified by (experiment, resolved config, seed, the code it runs) and lives in
``root/<experiment>/<key>/``; the code is a hash of the syntax trees reachable from the
function that opens the run (:mod:`weightmask.codehash`), so edited code never reads an
old result. Every file is written atomically and recorded with its size and sha256 in the
run's ``manifest.json``. A file that does not match its record, or does not parse, is
reported with :class:`CorruptRunWarning`, deleted and treated as absent, so a damaged run
is recomputed instead of silently reused. Checkpoints load without pickle.

Many writers, one store (processes and machines sharing a directory, e.g. on NFS): each run's
files and manifest are written under a lock (``<experiment>/.<key>.lock``), so two writers never
lose each other's manifest records and a reader never rejects a file that a writer is replacing.
A store opened with ``RunStore(root, claim=True)`` (what :mod:`weightmask.executor`'s tasks use)
also *claims* every stage it opens that is not done (``<experiment>/.<key>.claim``, an exclusive
lock held until the stage is marked done): a second worker opening that stage waits, then finds
it done and reuses it, so no stage runs twice. The claim is an OS file lock: a worker that dies
mid-stage releases it with its process, and the next worker to open the stage resumes from the
checkpoint the dead one left.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import io
import json
import operator
import os
import shutil
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch
from filelock import FileLock, Timeout
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

from . import codehash, provenance, settings
from ._io import atomic_write

MANIFEST, CONFIG, DONE, CHECKPOINT = "manifest.json", "config.json", "DONE", "checkpoint.pt"
_RESERVED = {MANIFEST, CONFIG, DONE, CHECKPOINT}
CLAIM_WAIT_NOTICE = 5.0  # seconds a claim waits before it prints which stage it waits for

# One lock object per lock file and process: a FileLock is re-entrant only through the same
# object (two flocks of one file in one process would block each other).
_LOCKS: dict[Path, FileLock] = {}
# The claims this process holds: run directory -> its claim lock (held until mark_done).
_CLAIMS: dict[Path, FileLock] = {}


def _lock(path: Path) -> FileLock:
    lock = _LOCKS.get(path)
    if lock is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = _LOCKS[path] = FileLock(path, thread_local=False)
    return lock


def _lock_path(run_dir: Path, kind: str) -> Path:
    """The lock file of a run, beside its directory (the run directory holds only its files)."""
    return run_dir.parent / f".{run_dir.name}.{kind}"


def claimed() -> list[Path]:
    """The run directories whose stage this process has claimed and not yet finished."""
    return list(_CLAIMS)


def release_claims() -> list[Path]:
    """Release every claim this process holds (a task's end: a stage it did not finish becomes
    free for the next worker, which resumes it from its checkpoint); the released directories."""
    released = list(_CLAIMS)
    for run_dir in released:
        _release(run_dir)
    return released


def _release(run_dir: Path) -> None:
    lock = _CLAIMS.pop(run_dir, None)
    if lock is not None:
        lock.release(force=True)


class CorruptRunWarning(UserWarning):
    """A stored file failed its integrity check and was discarded."""


class MissingResult(KeyError):
    """The requested result is not in the run (or was discarded as corrupt)."""

    def __str__(self) -> str:
        return str(self.args[0])


def _canonical(value: Any, where: str = "") -> Any:
    """`value` as plain JSON types (tuples become lists); a TypeError names the offending key."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_canonical(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            sub = f"{where}.{k}" if where else str(k)
            if not isinstance(k, str):
                raise TypeError(f"config has a non-string key {sub!r} ({type(k).__name__})")
            out[k] = _canonical(v, sub)
        return out
    raise TypeError(f"config value {where!r} is not JSON-serialisable ({type(value).__name__})")


def _identity(experiment: str, config: dict[str, Any], seed: int, code: str | None = None) -> dict[str, Any]:
    """What identifies a run, as plain JSON values."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, not {type(config).__name__}")
    return {"experiment": experiment, "config": _canonical(config), "seed": operator.index(seed), "code": code}


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def run_key(experiment: str, config: dict[str, Any], seed: int, code: str | None = None) -> str:
    """16 hex chars of the sha256 of the canonical JSON of {experiment, config, seed, code}."""
    return _digest(_identity(experiment, config, seed, code))[:16]


def derive_seed(*parts: Any) -> int:
    """A 63-bit seed from any JSON-able parts: distinct parts give unrelated streams."""
    return int(_digest(_canonical(list(parts)))[:16], 16) & (2**63 - 1)


def stage_seed(experiment: str, config: dict[str, Any], seed: int) -> int:
    """The one seed scheme: a hash of the stage name, its config key and the seed id, so two
    stages (or two configs, or two seeds) never share a random stream. The code is not part
    of it: an edit re-runs a stage on the same random numbers."""
    ident = _identity(experiment, config, seed)
    return derive_seed(experiment, _digest(ident["config"])[:16], ident["seed"])


def _checked(name: str, write: bool = False) -> str:
    """`name` if it is a plain file name in a run directory that user code may read (or write)."""
    if not name or name.startswith(".") or "/" in name or "\\" in name or name == MANIFEST:
        raise ValueError(f"invalid result name {name!r}: use a plain file name")
    if write and name in _RESERVED:
        raise ValueError(f"{name!r} is reserved by the run store")
    return name


@dataclass(frozen=True)
class Run:
    """One run's directory: named results, saved masks, a checkpoint and a DONE marker.

    Names are file names inside the directory, e.g. ``"metrics.json"``, ``"masks.safetensors"``.
    """

    dir: Path

    @functools.cached_property
    def info(self) -> dict[str, Any]:
        """The run's config.json: {experiment, config, seed, key}."""
        return self.load_json(CONFIG)

    @property
    def key(self) -> str:
        return self.dir.name

    @property
    def seed(self) -> int:
        """The stage's own random seed (:func:`stage_seed`): seed every stream of the run from it."""
        info = self.info
        return stage_seed(info["experiment"], info["config"], info["seed"])

    def complete(self, names: tuple[str, ...] | list[str]) -> bool:
        """True if the run is done and every file in ``names`` is intact and parses.

        A done run missing one of them is reported (the warning names the file) and marked
        not done, so the stage recomputes instead of reading a partial result.
        """
        if not self.done:
            return False
        loaders = {".json": self.load_json, ".csv": self.load_frame, ".safetensors": self.load_tensors}
        for name in names:
            try:
                loaders.get(Path(name).suffix, lambda n: self._load(_checked(n), bytes))(name)
            except MissingResult:
                warnings.warn(f"{self.dir / name} is missing or damaged; recomputing the stage",
                              CorruptRunWarning, stacklevel=2)
                self._discard(DONE)
                return False
        return True

    @property
    def done(self) -> bool:
        """True once mark_done() was called and its marker is intact."""
        return self._read(DONE) is not None

    def mark_done(self) -> None:
        """Write the DONE marker, then release this process's claim on the stage (if any)."""
        self._write(DONE, datetime.now(timezone.utc).isoformat().encode())
        _release(self.dir)

    def path(self, name: str) -> Path:
        return self.dir / _checked(name)

    def has(self, name: str) -> bool:
        """True if `name` is stored and intact."""
        return self._read(_checked(name)) is not None

    def save_json(self, name: str, obj: Any) -> None:
        self._write(_checked(name, write=True), json.dumps(obj, indent=2).encode())

    def load_json(self, name: str) -> Any:
        return self._load(_checked(name), json.loads)

    def save_frame(self, name: str, df: pd.DataFrame) -> None:
        """Store `df` as CSV; the index is not stored (tidy tables carry their data in columns)."""
        self._write(_checked(name, write=True), df.to_csv(index=False).encode())

    def load_frame(self, name: str) -> pd.DataFrame:
        return self._load(
            _checked(name), lambda b: pd.read_csv(io.BytesIO(b)) if b.strip() else pd.DataFrame()
        )

    def save_tensors(self, name: str, tensors: dict[str, torch.Tensor]) -> None:
        data = _st_save({k: t.detach().cpu().contiguous() for k, t in tensors.items()})
        self._write(_checked(name, write=True), data)

    def load_tensors(self, name: str) -> dict[str, torch.Tensor]:
        return self._load(_checked(name), _st_load)

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Store ``state`` (tensors, numbers, strings and containers of them) as the checkpoint."""
        buf = io.BytesIO()
        torch.save(state, buf)
        self._write(CHECKPOINT, buf.getvalue())

    def load_checkpoint(self, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
        """The last checkpoint, or None if there is none (or it was corrupt or unsafe).

        Loaded with ``weights_only=True``: no pickled code runs, whoever wrote the file. The
        one class allowed beyond tensors and containers is ``collections.Counter``, which
        PyTorch's step schedulers keep their milestones in.
        """
        def parse(data: bytes) -> Any:
            with torch.serialization.safe_globals([collections.Counter]):
                return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
        try:
            return self._load(CHECKPOINT, parse)
        except MissingResult:
            return None

    def clear_checkpoint(self) -> None:
        self._discard(CHECKPOINT)

    def cached(self, name: str, fn: Callable[[], Any]) -> Any:
        """The JSON result stored under `name`, computing and storing fn() if it is absent."""
        try:
            return self.load_json(name)
        except MissingResult:
            pass
        self.save_json(name, fn())
        return self.load_json(name)  # as stored, so first and later calls agree

    def remove(self) -> None:
        """Delete the run directory and everything in it."""
        if self.dir.exists():
            shutil.rmtree(self.dir)
        self.__dict__.pop("info", None)

    def _manifest(self) -> dict[str, dict[str, Any]]:
        path = self.dir / MANIFEST
        try:
            manifest = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {}
        except ValueError as e:
            reason = f"does not parse ({e})"
        else:
            if isinstance(manifest, dict) and all(isinstance(v, dict) for v in manifest.values()):
                return manifest
            reason = "is not a mapping of file records"
        warnings.warn(f"{path} {reason}; discarding it", CorruptRunWarning, stacklevel=2)
        path.unlink(missing_ok=True)
        return {}

    def _save_manifest(self, manifest: dict[str, dict[str, Any]]) -> None:
        atomic_write(self.dir / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())

    @property
    def _lock(self) -> FileLock:
        """The lock that every change of this run's files and manifest holds (many writers)."""
        return _lock(_lock_path(self.dir, "lock"))

    def _write(self, name: str, data: bytes) -> None:
        """Write the file, then record it (a crash in between leaves it unrecorded: rejected)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with self._lock:
            atomic_write(self.dir / name, data)
            manifest = self._manifest()
            manifest[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            self._save_manifest(manifest)

    def _read(self, name: str) -> bytes | None:
        """The file's bytes if they match the manifest; None if absent or rejected.

        A mismatch is checked again under the run's lock before the file is rejected: another
        writer may have been between replacing the file and recording it."""
        found = self._read_once(name)
        if isinstance(found, bytes) or found is None:
            return found
        with self._lock:
            found = self._read_once(name)
            if isinstance(found, str):
                self._reject(name, found)
                return None
        return found

    def _read_once(self, name: str) -> bytes | str | None:
        """The file's bytes if they match the manifest, None if absent, else why not (a str)."""
        try:
            data = (self.dir / name).read_bytes()
        except FileNotFoundError:
            return None
        entry = self._manifest().get(name)
        if entry is None:
            reason = "is not recorded in the manifest"
        elif entry.get("size") != len(data):
            reason = f"has {len(data)} bytes, the manifest records {entry.get('size')}"
        elif entry.get("sha256") != hashlib.sha256(data).hexdigest():
            reason = "does not match its sha256 in the manifest"
        else:
            return data
        return reason

    def _load(self, name: str, parse: Callable[[bytes], Any]) -> Any:
        data = self._read(name)
        if data is not None:
            try:
                return parse(data)
            except Exception as e:
                self._reject(name, f"does not parse ({type(e).__name__}: {e})")
        raise MissingResult(f"no result {name!r} in run {self.dir}")

    def _reject(self, name: str, reason: str) -> None:
        warnings.warn(f"{self.dir / name} {reason}; discarding it", CorruptRunWarning)
        self._discard(name)

    def _discard(self, name: str) -> None:
        """Delete the file, then its record (a leftover record of a missing file is harmless)."""
        with self._lock:
            (self.dir / name).unlink(missing_ok=True)
            manifest = self._manifest()
            if manifest.pop(name, None) is not None:
                self._save_manifest(manifest)


class RunStore:
    """A directory of runs, one per (experiment, resolved config, seed).

    ``claim=True``: every stage opened that is not done is claimed for this process (see the
    module's docstring), waiting while another process holds it. ``opened`` lists, in order,
    ``(experiment, key, computed)`` for every stage opened, ``computed`` False when it was
    already done: what a task of :mod:`weightmask.executor` reports.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None, claim: bool = False) -> None:
        self.root = Path(root) if root is not None else settings.results_root()
        self.claim = claim
        self.opened: list[tuple[str, str, bool]] = []

    def run(self, experiment: str, config: dict[str, Any], seed: int, code: Any = None) -> Run:
        """The run for these arguments, created (with its config.json) if new.

        ``code``: the functions, classes or modules the stage runs (their reachable code is
        hashed into the key); default: the top-level function that calls this method. Give
        a mask stage its network's code too, e.g. ``code=(mask, network)``, so that a change
        to how the network was trained re-runs the mask.
        """
        roots = code if isinstance(code, (tuple, list)) else [code] if code is not None else []
        if not roots:
            found = codehash.caller()
            roots = [found] if found else []
        code_key = codehash.code_hash(*roots) if roots else None
        key = run_key(experiment, config, seed, code_key)
        run = Run(self.root / _checked(experiment) / key)
        if not run.has(CONFIG):
            info = {**_identity(experiment, config, seed, code_key), "key": key,
                    "commit": provenance.commit()}
            run._write(CONFIG, json.dumps(info, indent=2).encode())
        done = run.done
        if self.claim and not done:
            _claim(run)
            done = run.done  # the worker it waited for finished it
        self.opened.append((experiment, key, not done))
        return run

    def runs(self, experiment: str | None = None) -> list[Run]:
        """Runs on disk with an intact config.json, optionally of one experiment."""
        base = self.root / _checked(experiment) if experiment else self.root
        pattern = f"*/{CONFIG}" if experiment else f"*/*/{CONFIG}"
        found = (Run(p.parent) for p in sorted(base.glob(pattern)))
        return [run for run in found if run.has(CONFIG)]


def _claim(run: Run) -> None:
    """Hold ``run``'s claim (see the module's docstring); released at once if the holder we
    waited for finished it."""
    if run.dir in _CLAIMS:
        return
    lock = _lock(_lock_path(run.dir, "claim"))
    try:
        lock.acquire(timeout=CLAIM_WAIT_NOTICE)
    except Timeout:
        print(f"weightmask: waiting for another worker that computes {run.dir}", flush=True)
        lock.acquire()  # until it is done, or its process dies (the OS releases the lock)
    _CLAIMS[run.dir] = lock
    if run.done:
        _release(run.dir)
