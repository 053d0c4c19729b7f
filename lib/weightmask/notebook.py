"""The one call of a chapter notebook: ``ch = notebook.start("method", globals())``.

It checks the notebook's parameters (an unknown name, e.g. papermill's ``-p profil quick``,
is an error naming it) and every setting before any compute, runs the chapter (reusing the
run store), computes the verdicts, saves them for the front page's dashboard and loads the
committed reference run. The notebook keeps only its parameters, prose and figures.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import chapters, dashboard, paper, plan, profiles, reference, settings
from .store import RunStore

IPYTHON = frozenset({"In", "Out", "get_ipython", "exit", "quit"})  # names IPython puts in a notebook
DATA = (type(None), bool, int, float, str, list, tuple, dict)  # what a parameter can be (papermill's values)
FRONT = ("profile", "device")  # the front page's parameters (build.py passes both to every notebook)


@dataclass(frozen=True)
class ChapterRun:
    """What a chapter notebook shows: its checked plan, results, verdicts and the reference run's."""

    plan: plan.Plan
    results: dict[str, pd.DataFrame]
    verdicts: pd.DataFrame
    ref: reference.Reference | None  # the committed GPU run at the paper profile, if any
    ref_verdicts: pd.DataFrame | None
    names: frozenset[str]  # the notebook's names when it started

    @property
    def config(self) -> dict[str, Any]:
        return self.plan.config

    @property
    def profile(self) -> str:
        return self.plan.profile

    @property
    def seeds(self) -> list[int]:
        return self.plan.seed_ids

    def table(self):
        """The verdicts as the page shows them (paper.styled), the reference run's beside them."""
        return paper.styled(paper.with_reference(self.verdicts, self.ref_verdicts), self.plan.chapter.name,
                            self.profile)

    def on_reference(self, table: Callable[[dict[str, pd.DataFrame]], Any]):
        """``table`` of the committed reference run's results under a line naming that run, or a line
        saying that none is committed: a chapter's table at the paper's settings beside its own."""
        from IPython.display import Markdown, display
        if self.ref is None:
            return Markdown("No reference run at the paper profile is committed for this chapter.")
        display(Markdown(f"Reference run: {self.ref.describe()}."))
        out = table(self.ref.results)
        if isinstance(out, pd.DataFrame) and out.empty:
            return Markdown("The reference run has none of the networks or settings this table compares.")
        return out

    def deviations(self):
        """The chapter's settings that differ from the paper, per profile, with the reasons."""
        from IPython.display import HTML
        return HTML(paper.deviations_html(self.plan.chapter.name))


def parameters(namespace: Mapping[str, Any], allowed: Iterable[str], where: str) -> dict[str, Any]:
    """The parameters set in a notebook's ``namespace``: its data names, each of which must be ``allowed``.

    Modules, functions, classes, IPython's own and ``_``-names are not parameters. When the cell
    runs again in a live kernel, names that appeared after the last start are the notebook's own."""
    allowed = list(allowed)
    earlier = next((v.names for v in namespace.values() if isinstance(v, ChapterRun)), None)
    found = {k: v for k, v in namespace.items() if not k.startswith("_") and k not in IPYTHON
             and isinstance(v, DATA) and (earlier is None or k in earlier)}
    unknown = sorted(set(found) - set(allowed))
    if unknown:
        raise ValueError(f"unknown notebook parameter(s) {unknown} in {where}; its parameters are {allowed}")
    return found


def start(name: str, namespace: Mapping[str, Any], store: RunStore | None = None) -> ChapterRun:
    """Check the parameters in ``namespace`` (the notebook's ``globals()``), run chapter ``name``,
    judge it, save the verdicts for the dashboard and load the reference run."""
    chapter = chapters.get(name)
    planned = plan.prepare(name, **parameters(namespace, (p.name for p in chapter.parameters), f"chapter {name!r}"))
    settings.tune_process()  # a notebook is an entry point (WEIGHTMASK_TUNE=0: changes nothing)
    results = planned.run(store)
    verdicts = chapter.module.verdicts(results)
    ref = reference.load(chapter.reference)
    ref_verdicts = chapter.module.verdicts(ref.results) if ref is not None else None
    dashboard.save(name, verdicts, planned.profile, store, ref_verdicts)
    return ChapterRun(planned, results, verdicts, ref, ref_verdicts, frozenset(namespace))


def front(namespace: Mapping[str, Any]) -> str:
    """The front page's profile, its parameters checked: ``profile`` (None: the default profile) and ``device``."""
    return profiles.pick(parameters(namespace, FRONT, "the front page").get("profile"))
