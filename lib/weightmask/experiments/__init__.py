"""One module per paper section: ``run(config, ...) -> dict of tidy DataFrames``; no plotting."""
from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType

EXPERIMENTS = {
    "method": "Sec. 2 / App. A: the Gumbel-sigmoid mask and a mask trained on add/mul",
    "addmul": "Sec. 3.1 / App. C.4: addition and multiplication modules in an FNN (Fig. 1, 12, 13, Tab. 2)",
    "doubleadd": "Sec. 3.2 / App. C.1, C.5: is one adder reused for two pairs of numbers? (Fig. 2, 8, Tab. 1, 3)",
    "pmnist": "Sec. 3.3 / App. C.6: do later tasks reuse earlier ones' weights on permuted MNIST? (Fig. 3, 14)",
    "mathematics": "Sec. 4 / App. C.7.2: do hard Mathematics Dataset samples need weights the easy ones do not? (Fig. 5)",
    "scan": "Sec. 4 / App. C.7.1: do SCAN networks reuse weights for new combinations? (Fig. 4, 15)",
    "cnn": "Sec. 5 / App. C.8: class-exclusive weights in CNNs (Fig. 6, 17-20)",
    "trust": "App. B.2, C.3: half-masking, the choice of beta, network size, mask probabilities (Fig. 7, 9, 10, 11)",
}


def get(name: str) -> ModuleType:
    """The experiment module called ``name``."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; choose one of {sorted(EXPERIMENTS)}")
    return importlib.import_module(f"{__name__}.{name}")


def seed_ids(seeds: int | Iterable[int] | None, default: int) -> list[int]:
    """The seeds to run: None -> the profile's ``default`` count, n -> 0..n-1, a list -> those."""
    if seeds is None:
        seeds = default
    ids = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not ids or min(ids) < 0 or len(set(ids)) != len(ids):
        raise ValueError(f"seeds must be a count >= 1 or distinct seed ids >= 0, got {seeds!r}")
    return ids
