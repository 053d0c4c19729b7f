"""A chapter's run with every argument checked: what ``weightmask run`` and the notebooks share.

``prepare`` turns a chapter's parameters (those of its notebook: profile, seeds, device and
its own, see :mod:`weightmask.chapters`) and overrides of its settings into a :class:`Plan`,
checking everything before any compute; ``Plan.run`` then trains into the run store.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from . import chapters, checks, profiles
from .device import resolve_device
from .experiments import seed_ids
from .store import RunStore


@dataclass(frozen=True)
class Plan:
    """What a chapter will run: its resolved settings and ``run()``'s arguments, all checked."""

    chapter: chapters.Chapter
    profile: str
    config: dict[str, Any]
    seeds: int | list[int] | None  # as given; None: the profile's
    device: torch.device
    arguments: dict[str, Any]  # run()'s keyword arguments beyond config, seeds, store and device

    @property
    def seed_ids(self) -> list[int]:
        return seed_ids(self.seeds, self.config["seeds"])

    def run(self, store: RunStore | None = None) -> dict:
        """The chapter's result tables, trained into ``store`` (finished stages are reused)."""
        return self.chapter.module.run(self.config, seeds=self.seeds, store=store or RunStore(),
                                       device=self.device, **self.arguments)


def prepare(name: str, sets: dict[str, Any] | None = None, **params: Any) -> Plan:
    """The plan of chapter ``name`` for its notebook parameters ``params`` (missing ones: their
    defaults) and ``sets``, overrides of the profile's settings (``{"lstm.hidden": 32}``).

    Raises a ValueError or TypeError naming the first bad argument, before any compute."""
    chapter = chapters.get(name)
    allowed = [p.name for p in chapter.parameters]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for chapter {name!r}; its parameters are {allowed}")
    values = {p.name: p.check(params.get(p.name, p.default)) for p in chapter.parameters}
    profile = profiles.pick(values["profile"])
    overrides = dict(sets or {})
    for p in chapter.params:
        if p.setting and values[p.name] is not None:
            if p.name in overrides:
                raise ValueError(f"{p.name!r} is given both as a parameter and as a setting override")
            overrides[p.name] = values[p.name]
    arguments = {p.name: values[p.name] for p in chapter.params if not p.setting}
    if chapter.builds_on:  # its stages are those chapters' at the same profile
        arguments["profile"] = profile
    config = profiles.resolve(name, profile, **overrides)
    checks.experiment(name, config, values["seeds"], values["device"], **arguments)
    return Plan(chapter, profile, config, values["seeds"], resolve_device(values["device"]), arguments)
