"""Committed reference results (metrics of a GPU run at the ``paper`` profile), shown beside the CPU run.

A reference is a folder ``results/reference/<name>/`` holding the tables that
``weightmask run ... --out`` writes (CSV) and their ``provenance.json`` (GPU, commit, date,
profile, seeds). Masks and weights are never committed, only the metrics.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from . import settings

ENV_VAR = "WEIGHTMASK_REFERENCE"
PROVENANCE = "provenance.json"


def root() -> Path:
    """``$WEIGHTMASK_REFERENCE``, else ``results/reference`` of the source checkout."""
    return settings.reference_dir()


@dataclass
class Reference:
    """The tables of a reference run and where they came from."""

    name: str
    results: dict[str, pd.DataFrame]
    provenance: list[dict[str, Any]]  # one entry per run that contributed seeds

    @property
    def seeds(self) -> list[int]:
        return sorted({int(s) for p in self.provenance for s in p["seeds"]})

    def describe(self) -> str:
        """One line for a reader: profile, seeds, device, date and commit of each contributing run."""
        runs = "; ".join(f"{p['device']}, torch {p['torch']}, commit {p['commit'][:10]}, {p['date'][:10]}"
                         for p in self.provenance)
        return (f"profile **{self.provenance[0]['profile']}**, {len(self.seeds)} seed(s) "
                f"{self.seeds}: {runs}")


def load(name: str, base: Path | None = None) -> Reference | None:
    """The reference ``name``, or None when none is committed (the book then shows the CPU run alone)."""
    folder = (base or root()) / name
    if not (folder / PROVENANCE).is_file():
        return None
    prov = json.loads((folder / PROVENANCE).read_text())
    tables = {p.stem: _read(p) for p in sorted(folder.glob("*.csv"))}
    return Reference(name, tables, prov if isinstance(prov, list) else [prov])


def _read(path: Path) -> pd.DataFrame:
    """A table's CSV; a table the run left empty (e.g. an FNN-only check in an LSTM-only run) is written
    without a header, so it reads as an empty frame."""
    try:
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def combine(sources: Sequence[str | os.PathLike], target: str | os.PathLike) -> Reference:
    """Merge the output folders of runs over disjoint seeds into one reference folder.

    ``sources`` and ``target`` are paths (strings or ``Path``). Tables with a ``seed`` column
    are concatenated; tables without one (the same for every run, e.g. sampling statistics)
    are taken from the first source.
    """
    if isinstance(sources, (str, os.PathLike)):
        raise TypeError("sources must be a list of run output folders, not one path")
    sources, target = [Path(s) for s in sources], Path(target)
    refs = [load(src.name, src.parent) for src in sources]
    if any(r is None for r in refs):
        missing = [str(s) for s, r in zip(sources, refs) if r is None]
        raise ValueError(f"not a run output folder (no {PROVENANCE}): {missing}")
    seeds = [s for r in refs for s in r.seeds]
    if len(seeds) != len(set(seeds)):
        raise ValueError(f"the runs overlap in their seeds: {sorted(seeds)}")
    target.mkdir(parents=True, exist_ok=True)
    for name, first in refs[0].results.items():
        table = first
        if "seed" in first.columns:
            table = pd.concat([r.results[name] for r in refs], ignore_index=True)
            table = table.sort_values("seed", kind="stable")
        table.to_csv(target / f"{name}.csv", index=False)
    provenance = [p for r in refs for p in r.provenance]
    (target / PROVENANCE).write_text(json.dumps(provenance, indent=2))
    return load(target.name, target.parent)
