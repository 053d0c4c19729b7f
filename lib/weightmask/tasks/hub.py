"""The Hugging Face hub through ``datasets``: what every ``source="hub"`` path of the tasks reads.

``dataset(name, config, split, path)`` is ``datasets.load_dataset(name, config, split=split)`` (the hub,
cached by ``datasets`` as memory-mapped Arrow under ``~/.cache/huggingface``), or, given ``path``, a local
copy saved with ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk`` (offline: the tests, or a copy made
on a machine that was online). ``scan_split`` reads SCAN from ``SCAN_HUB``. ``readable`` is the
``"auto"`` source of the text tasks: the hub where it answers, else their offline source.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

SCAN_HUB = "google-research-datasets/scan"  # configs = the split names; columns "commands", "actions"


def dataset(name: str, config: str | None = None, split: str | None = None, path: str | Path | None = None):
    """The hub dataset ``name`` (its ``config``; one ``split`` or all as a DatasetDict), or the copy at ``path``."""
    try:
        import datasets
    except ImportError as err:
        raise RuntimeError("source='hub' needs the `datasets` package (pip install datasets)") from err
    if path is not None:
        local = datasets.load_from_disk(str(path))
        return local[split] if split is not None and isinstance(local, datasets.DatasetDict) else local
    return datasets.load_dataset(name, config, split=split)


def scan_split(name: str, path: str | Path | None = None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, test) lists of (command, actions) of the SCAN split ``name`` (one of ``scan.SPLITS``) from the
    hub's ``SCAN_HUB`` (``path``: a local copy of that config, a DatasetDict with ``train`` and ``test``):
    the lines of the original SCAN files, as :func:`weightmask.tasks.scan.load_split` returns them."""
    from .scan import SPLITS
    if name not in SPLITS:
        raise ValueError(f"unknown SCAN split {name!r}; choose one of {list(SPLITS)}")
    ds = dataset(SCAN_HUB, name, path=path)
    return tuple([(c.strip(), a.strip()) for c, a in zip(ds[part]["commands"], ds[part]["actions"])]
                 for part in ("train", "test"))


_READABLE: dict[str, bool] = {}  # hub dataset -> could it be read, asked once per process


def readable(name: str, probe: Callable[[], object]) -> bool:
    """Does ``probe()`` (a read of the hub dataset ``name``) succeed: online, or from the ``datasets`` cache?
    Asked once per ``name`` and process (offline, ``datasets`` retries for ~23 s before it gives up); a
    failure warns, naming why, so that a run that falls back to its offline source says so."""
    if name not in _READABLE:
        try:
            probe()
            _READABLE[name] = True
        except (OSError, RuntimeError) as err:  # no network, not cached, no `datasets` package
            warnings.warn(f"the Hugging Face hub dataset {name} cannot be read ({type(err).__name__}: {err}); "
                          "using the offline source", stacklevel=3)
            _READABLE[name] = False
    return _READABLE[name]
