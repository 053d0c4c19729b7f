"""The stages a chapter declares, so that an executor can run each as its own task.

A chapter that defines ``stages(config, seed, **arguments) -> list[Stage]`` (``arguments``: those of
its ``run`` beyond config, seeds, store and device, e.g. ``source``) lists, per seed, the run-store stages
its ``run`` opens and what each waits for (a mask waits for the weights it reads). An executor
computes each stage with ``compute(config, seed, store, device, **kwargs)``; the chapter's ``run``
afterwards finds every stage finished and only reads them. A chapter without ``stages`` is run one
task per seed (:mod:`weightmask.executor`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Stage:
    """One stage of one seed: its name within the seed, the module-level function that computes it
    (``compute(config, seed, store, device, **kwargs)``; it must open the same run-store stage that the
    chapter's ``run`` opens), the names of the stages of the same seed it waits for, and its GPU share."""

    name: str
    compute: Callable[..., Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    gpus: float | None = None  # the share of a GPU it takes where it runs on one; None: its chapter's

    def __post_init__(self) -> None:
        qualname = getattr(self.compute, "__qualname__", "")
        if not callable(self.compute) or "." in qualname or "<" in qualname:  # a method, a nested function, a lambda
            raise ValueError(f"stage {self.name!r}: compute must be a module-level function (it is sent to "
                             f"workers by name), got {self.compute!r}")


def check(stages: list[Stage]) -> list[Stage]:
    """``stages`` with distinct names, each waiting only for stages listed before it."""
    seen: set[str] = set()
    for s in stages:
        if s.name in seen:
            raise ValueError(f"stage {s.name!r} is declared twice")
        missing = [a for a in s.after if a not in seen]
        if missing:
            raise ValueError(f"stage {s.name!r} waits for {missing}, which are not declared before it")
        seen.add(s.name)
    return stages
