"""Everything weightmask takes from its host, and the one call that changes the host.

Environment variables
---------------------
The library reads these and no others, each through one function of this module, at the
time of the call (never at import), so a test or a notebook may change them at any point:

==========================  =================  ==========================  ===============================
variable                    read by            when unset                  meaning
==========================  =================  ==========================  ===============================
``WEIGHTMASK_RESULTS``      ``results_root``   ``results`` (relative)      root of the run store
``WEIGHTMASK_PROFILE``      ``profile``        ``quick``                   profile of CLI and chapters
``WEIGHTMASK_PROGRESS``     ``progress``       on                          0/false/no/off: no bars
``WEIGHTMASK_DATA``         ``data_dir``       the checkout's ``data/``    datasets (MNIST, images, ...)
``WEIGHTMASK_REFERENCE``    ``reference_dir``  ``results/reference/``      committed GPU reference results
``WEIGHTMASK_COMMIT``       ``commit``         ``git rev-parse HEAD``      commit in ``provenance.json``
``WEIGHTMASK_TUNE``         ``tune``           on                          0/false/no/off: ``tune_process``
                                                                           changes nothing
``RAY_ADDRESS``             ``ray_address``    a local Ray instance        Ray's own: the cluster of
                                                                           ``--executor ray``
``MALLOC_MMAP_THRESHOLD_``  ``user_malloc``    glibc's defaults            glibc's own: when either is set,
``MALLOC_TRIM_THRESHOLD_``                                                 ``tune_process`` leaves malloc be
==========================  =================  ==========================  ===============================

Child processes (the Mathematics Dataset's generators) get this process's environment with
``PYTHONHASHSEED`` fixed, through :func:`child_environment`. A Ray task of the executor sets
``WEIGHTMASK_PROGRESS`` in its worker (:func:`set_progress`).

Process-wide settings
---------------------
Importing weightmask or training with it changes nothing in the process beyond its own
objects: no environment variable is set (but by :func:`set_progress`, which only a Ray worker
calls) and no allocator is reconfigured. (numba's kernels
run with as many threads as PyTorch uses at the time of each call, ``numba.set_num_threads``,
which is local to the calling thread.) The one process-wide setting that makes CPU mask
training faster is applied only by :func:`tune_process`, which the command line
(``weightmask run``), the book's chapter runner and the benchmarks call, and which
``WEIGHTMASK_TUNE=0`` turns off:

- ``malloc``: glibc keeps large freed blocks in the process (``mallopt`` thresholds, see
  ``weightmask._alloc``) instead of returning them to the kernel and page-faulting them in
  again on the next step (~20% of a CPU mask step for the paper's FNN). The change is
  process-wide and cannot be undone; it is skipped where ``MALLOC_*`` variables are set.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["VARIABLES", "child_environment", "commit", "data_dir", "profile", "progress", "ray_address",
           "reference_dir", "results_root", "set_progress", "tune", "tune_process", "user_malloc"]

CHECKOUT = Path(__file__).resolve().parents[2]  # the source checkout (lib/weightmask/ lies two levels down)

VARIABLES = {
    "WEIGHTMASK_RESULTS": "root of the run store (default: results/, relative to the working directory)",
    "WEIGHTMASK_PROFILE": "profile of the CLI and the chapters: smoke, quick or paper (default: quick)",
    "WEIGHTMASK_PROGRESS": "0/false/no/off: no progress bars (default: on)",
    "WEIGHTMASK_DATA": "folder of the datasets (default: data/ of the checkout)",
    "WEIGHTMASK_REFERENCE": "folder of the reference results (default: results/reference/ of the checkout)",
    "WEIGHTMASK_COMMIT": "commit recorded in provenance.json (default: git rev-parse HEAD)",
    "WEIGHTMASK_TUNE": "0/false/no/off: tune_process() changes nothing (default: on)",
    "RAY_ADDRESS": "Ray's own: the cluster of --executor ray (default: a local Ray instance)",
    "MALLOC_MMAP_THRESHOLD_": "glibc's; when set, tune_process() leaves the allocator alone",
    "MALLOC_TRIM_THRESHOLD_": "glibc's; when set, tune_process() leaves the allocator alone",
}

_OFF = {"0", "false", "no", "off"}


def _get(name: str) -> str | None:
    """The value of a variable of :data:`VARIABLES`; an empty value counts as unset."""
    if name not in VARIABLES:  # pragma: no cover - a programming error
        raise KeyError(f"{name} is not one of weightmask's documented variables")
    return os.environ.get(name) or None


def _flag(name: str) -> bool:
    """A switch that is on unless set to 0, false, no or off (any case)."""
    value = _get(name)
    return value is None or value.strip().lower() not in _OFF


def results_root() -> Path:
    """``$WEIGHTMASK_RESULTS``, else ``results`` (relative to the working directory)."""
    return Path(_get("WEIGHTMASK_RESULTS") or "results")


def profile() -> str:
    """``$WEIGHTMASK_PROFILE``, else ``quick`` (unchecked: ``profiles.default_profile`` checks it)."""
    return _get("WEIGHTMASK_PROFILE") or "quick"


def progress() -> bool:
    """Whether progress bars are shown: ``$WEIGHTMASK_PROGRESS`` unless 0, false, no or off."""
    return _flag("WEIGHTMASK_PROGRESS")


def set_progress(on: bool) -> None:
    """Show (or hide) progress bars in this process and the processes it starts."""
    os.environ["WEIGHTMASK_PROGRESS"] = "1" if on else "0"


def ray_address() -> str | None:
    """``$RAY_ADDRESS``: the Ray cluster to connect to, if one is named."""
    return _get("RAY_ADDRESS")


def data_dir() -> Path:
    """``$WEIGHTMASK_DATA``, else the checkout's ``data/``."""
    return Path(_get("WEIGHTMASK_DATA") or CHECKOUT / "data")


def reference_dir() -> Path:
    """``$WEIGHTMASK_REFERENCE``, else the checkout's ``results/reference``."""
    return Path(_get("WEIGHTMASK_REFERENCE") or CHECKOUT / "results" / "reference")


def commit() -> str | None:
    """``$WEIGHTMASK_COMMIT``, else None (the caller asks git)."""
    return _get("WEIGHTMASK_COMMIT")


def tune() -> bool:
    """Whether :func:`tune_process` may change the process: ``$WEIGHTMASK_TUNE`` unless 0, false, no or off."""
    return _flag("WEIGHTMASK_TUNE")


def user_malloc() -> list[str]:
    """The glibc ``MALLOC_*`` threshold variables the user set (then left as they are)."""
    return [v for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_") if _get(v) is not None]


def child_environment(**extra: str) -> dict[str, str]:
    """The environment for a child process: this process's, with ``extra`` set (``PYTHONHASHSEED="0"``)."""
    return {**os.environ, **extra}


def tune_process(malloc: bool = True) -> dict[str, bool]:
    """Apply the process-wide settings that make CPU mask training faster; which ones took effect.

    Call it once from an entry point (the CLI, a chapter runner, a benchmark, a script), never
    from library code. ``WEIGHTMASK_TUNE=0`` makes it change nothing. ``malloc``: keep large
    freed blocks in the process (glibc only, once per process, skipped where ``MALLOC_*``
    variables are set); irreversible for the life of the process.
    """
    applied = {"malloc": False}
    if not tune():
        return applied
    if malloc:
        from ._alloc import keep_freed_memory
        applied["malloc"] = keep_freed_memory()
    return applied
