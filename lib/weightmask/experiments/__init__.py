"""One module per paper section: ``run(config, ...) -> dict of tidy DataFrames``; no plotting."""
from __future__ import annotations

import importlib
from types import ModuleType

EXPERIMENTS = {
    "method": "Sec. 2 / App. A: the Gumbel-sigmoid mask and a mask trained on add/mul",
}


def get(name: str) -> ModuleType:
    """The experiment module called ``name``."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}")
    return importlib.import_module(f"{__name__}.{name}")
