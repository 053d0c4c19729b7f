"""The book's results dashboard: every chapter's verdicts, collected from the run store.

Each chapter saves its verdict table when it runs (``save``); the introduction, executed
after the chapters, joins them into one table (``collect``), so that no result on the front
page is typed by hand and a chapter that has not run yet says so. The paper's claims and the
checks of the method (``kind``, see :data:`weightmask.paper.KINDS`) are shown and counted
apart (``claims``, ``method_checks``, ``counts``): a check that holds by construction is no
finding of the paper.
"""
from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

from . import chapters, paper
from ._io import atomic_write
from .profiles import check_profile
from .store import RunStore

FOLDER = "dashboard"
CHAPTERS = chapters.titles()  # the book's chapters in reading order, with the titles the dashboard links them by
COLUMNS = ["chapter", "claim", "paper", "this run", "profile", "verdict", "kind"]
SHOWN = COLUMNS[:-1]  # the columns of the HTML table: each section holds one kind
NOT_RUN = "not run"  # the verdict of a chapter that has no saved verdicts at the profile


def _path(store: RunStore, chapter: str, profile: str):
    return store.root / FOLDER / f"{chapter}-{check_profile(profile)}.csv"


def save(chapter: str, verdicts: pd.DataFrame, profile: str, store: RunStore | None = None) -> None:
    """Record ``chapter``'s verdict table (from ``paper.verdict_table``) for the dashboard."""
    missing = {"claim", "paper", "this run", "verdict"} - set(verdicts.columns)
    if missing:
        raise ValueError(f"verdicts must come from paper.verdict_table; missing columns {sorted(missing)}")
    path = _path(store or RunStore(), chapter, profile)
    table = _with_kind(verdicts).assign(chapter=chapter, profile=profile)[COLUMNS]
    atomic_write(path, table.to_csv(index=False).encode())


def collect(chapters: Sequence[str], profile: str, store: RunStore | None = None) -> pd.DataFrame:
    """One row per claim of every chapter at ``profile``; a chapter without saved verdicts gets
    one row saying it has not run."""
    store = store or RunStore()
    parts = []
    for chapter in chapters:
        path = _path(store, chapter, profile)
        if path.is_file():  # a table saved before claims had a kind holds claims only
            parts.append(_with_kind(pd.read_csv(path, keep_default_na=False)))
        else:
            parts.append(pd.DataFrame([{"chapter": chapter, "claim": "(this chapter has not run at this "
                                        "profile yet)", "paper": "", "this run": "", "profile": profile,
                                        "verdict": NOT_RUN, "kind": paper.CLAIM}]))
    return pd.concat(parts, ignore_index=True)[COLUMNS]


def _with_kind(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``kind`` column: a table without one holds the paper's claims only."""
    if "kind" not in table.columns:
        return table.assign(kind=paper.CLAIM)
    unknown = set(table["kind"]) - set(paper.KINDS)
    if unknown:
        raise ValueError(f"unknown kind(s) {sorted(unknown)}; the kinds are {paper.KINDS}")
    return table


def claims(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` (from ``collect``) that are the paper's claims."""
    return table[_with_kind(table)["kind"] == paper.CLAIM]


def method_checks(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``table`` that check the implementation (they cannot fail but through a bug)."""
    return table[_with_kind(table)["kind"] == paper.METHOD_CHECK]


def counts(table: pd.DataFrame) -> str:
    """``table``'s verdicts counted in the order of :data:`weightmask.paper.VERDICTS`, then "not run",
    e.g. ``"5 reproduced, 1 not reproduced"`` (``"none"`` if empty)."""
    n = table["verdict"].value_counts()
    order = [v for v in (*paper.VERDICTS, NOT_RUN) if v in n.index] + sorted(set(n.index) - {*paper.VERDICTS, NOT_RUN})
    return ", ".join(f"{n[v]} {v}" for v in order) or "none"


def to_html(table: pd.DataFrame, titles: dict[str, str] | None = None) -> str:
    """``table`` as an HTML table whose chapter names link to the chapters' pages."""
    titles = titles or {}
    rows = []
    for r in table[SHOWN].itertuples(index=False):
        chapter, claim, paper_fig, this_run, profile, verdict = (str(v) for v in r)
        link = f'<a href="{html.escape(chapter)}.html">{html.escape(titles.get(chapter, chapter))}</a>'
        cells = [link, claim, paper_fig, this_run, profile, verdict]
        css = verdict.replace(" ", "-")
        rows.append("<tr>" + "".join(f"<td>{c if i == 0 else html.escape(c)}</td>" for i, c in enumerate(cells[:-1]))
                    + f'<td class="verdict {css}"><b>{html.escape(verdict)}</b></td></tr>')
    head = "".join(f"<th>{c}</th>" for c in SHOWN)
    return f'<table class="dashboard"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
