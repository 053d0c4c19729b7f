"""One module per chapter (the registry, :mod:`weightmask.chapters`, lists them in reading order):
``PROFILES``, ``CLAIMS``, ``run(config, ...) -> dict of tidy DataFrames`` and ``verdicts``; no plotting."""
from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral


def _integer(value) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def seed_ids(seeds: int | Iterable[int] | None, default: int) -> list[int]:
    """The seeds to run: None -> the profile's ``default`` count, n -> 0..n-1, a list -> those."""
    if seeds is None:
        seeds = default
    if _integer(seeds):
        ids = list(range(seeds))
    else:
        ids = list(seeds) if isinstance(seeds, Iterable) and not isinstance(seeds, str) else []
    if not ids or not all(map(_integer, ids)) or min(ids) < 0 or len(set(ids)) != len(ids):
        raise ValueError(f"seeds must be a count >= 1 or distinct seed ids >= 0, got {seeds!r}")
    return [int(i) for i in ids]
