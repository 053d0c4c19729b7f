"""The book's chapters, in reading order: the one list that the book, the CLI and the dashboard follow.

An entry names a chapter (its notebook ``book/<name>.ipynb`` and its experiment module
``weightmask.experiments.<name>``), titles it, says what it shows, and lists the parameters
its notebook takes beyond :data:`weightmask.params.COMMON`. What the chapter computes lives
in its module: ``PROFILES`` (the settings per profile), ``CLAIMS`` (what the paper says),
``run``, ``verdicts``, optionally ``check`` (its own argument checks), ``CHOICES`` (allowed
values per setting) and ``BUILDS_ON`` (chapters whose stages it reuses at the same profile).
Adding a chapter: its module, its notebook, its tests and one entry here.
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .params import COMMON, Param, listed
from .tasks import images, mnist

FRONT = "intro"  # the book's front page (the results dashboard): not a chapter, it runs last


@dataclass(frozen=True)
class Chapter:
    """One chapter: registry facts here, everything it computes in its experiment module."""

    name: str
    title: str
    about: str
    params: tuple[Param, ...] = ()  # beyond COMMON

    @property
    def parameters(self) -> tuple[Param, ...]:
        """Every parameter of the notebook, in the order of its parameters cell."""
        return COMMON + self.params

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(f"weightmask.experiments.{self.name}")

    @property
    def profiles(self) -> dict[str, dict[str, Any]]:
        return self.module.PROFILES

    @property
    def claims(self) -> list:
        return self.module.CLAIMS

    @property
    def builds_on(self) -> tuple[str, ...]:
        return getattr(self.module, "BUILDS_ON", ())

    @property
    def reference(self) -> str:
        """The name of its committed reference run (``results/reference/<name>-paper``)."""
        return f"{self.name}-paper"

    def parameters_cell(self) -> str:
        """The source of the notebook's parameters cell (a test keeps the notebook equal to it)."""
        return "\n".join(f"{p.name} = {json.dumps(p.default) if isinstance(p.default, str) else repr(p.default)}"
                         f"  # {p.help}" for p in self.parameters)


def _source(choices: tuple[str, ...], help: str) -> Param:
    return Param("source", "auto", f"{' | '.join(choices)}: {help} (see data/README.md)", choices=choices)


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("method", "The method",
            "Sec. 2 / App. A: the Gumbel-sigmoid mask and a mask trained on add/mul"),
    Chapter("addmul", "Addition / multiplication",
            "Sec. 3.1 / App. C.4: addition and multiplication modules in an FNN (Fig. 1, 12, 13, Tab. 2)"),
    Chapter("doubleadd", "Double addition",
            "Sec. 3.2 / App. C.1, C.5: is one adder reused for two pairs of numbers? (Fig. 2, 8, Tab. 1, 3)"),
    Chapter("pmnist", "Permuted MNIST",
            "Sec. 3.3 / App. C.6: do later tasks reuse earlier ones' weights on permuted MNIST? (Fig. 3, 14)",
            (_source(mnist.SOURCES, "where the digits come from"),)),
    Chapter("scan", "Systematic generalization on SCAN",
            "Sec. 4 / App. C.7.1: do SCAN networks reuse weights for new combinations? (Fig. 4, 15)"),
    Chapter("mathematics", "The Mathematics Dataset",
            "Sec. 4 / App. C.7.2: do hard Mathematics Dataset samples need weights the easy ones do not? (Fig. 5)",
            (Param("tasks", None, 'None: the profile\'s tasks; or a list of some of them, e.g. ["comparison__sort"]',
                   parse=listed),
             Param("n_train", None, "None: the profile's training samples per difficulty", setting=True))),
    Chapter("cnn", "Class-specific weights in CNNs",
            "Sec. 5 / App. C.8: class-exclusive weights in CNNs (Fig. 6, 17-20)",
            (_source(images.SOURCES, "the images"),)),
    Chapter("trust", "Trusting the method",
            "App. B.2, C.3: half-masking, the choice of beta, network size, mask probabilities (Fig. 7, 9, 10, 11)"),
)


def names() -> list[str]:
    return [c.name for c in CHAPTERS]


def titles() -> dict[str, str]:
    """``{name: title}`` in reading order."""
    return {c.name: c.title for c in CHAPTERS}


def get(name: str) -> Chapter:
    """The chapter called ``name``; a ValueError lists the chapters otherwise."""
    for chapter in CHAPTERS:
        if chapter.name == name:
            return chapter
    raise ValueError(f"unknown experiment {name!r}; choose one of {names()}")


def toc() -> str:
    """The book's ``_toc.yml`` (Jupyter Book's jb-book format): the front page, then the chapters."""
    return "\n".join(["# Written by book/build.py from weightmask.chapters; edit the registry, not this file.",
                      "format: jb-book", f"root: {FRONT}", "chapters:"]
                     + [f"  - file: {c.name}" for c in CHAPTERS]) + "\n"
