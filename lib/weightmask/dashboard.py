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
COLUMNS = ["chapter", "claim", "paper", "this run", "profile", "verdict", "kind", "seeds", "why", "tuned",
           "margin", "low", "high", "reference run", "reference verdict"]
SHOWN = ["verdict", "chapter", "claim", "paper", "this run", "seeds"]  # the HTML columns; a section holds one kind
NOT_RUN = "not run"  # the verdict of a chapter that has no saved verdicts at the profile


def _path(store: RunStore, chapter: str, profile: str):
    return store.root / FOLDER / f"{chapter}-{check_profile(profile)}.csv"


def save(chapter: str, verdicts: pd.DataFrame, profile: str, store: RunStore | None = None,
         reference: pd.DataFrame | None = None) -> None:
    """Record ``chapter``'s verdict table (from ``paper.verdict_table``) for the dashboard, with the
    committed reference run's verdicts (GPU, paper profile) beside it where there are any."""
    missing = {"claim", "paper", "this run", "verdict"} - set(verdicts.columns)
    if missing:
        raise ValueError(f"verdicts must come from paper.verdict_table; missing columns {sorted(missing)}")
    path = _path(store or RunStore(), chapter, profile)
    table = _complete(paper.with_reference(_with_kind(verdicts), reference).assign(chapter=chapter, profile=profile))
    atomic_write(path, table.to_csv(index=False).encode())


def _complete(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every column of :data:`COLUMNS`, those an older table lacks left empty."""
    return table.assign(**{c: "" for c in COLUMNS if c not in table.columns})[COLUMNS]


def collect(chapters: Sequence[str], profile: str, store: RunStore | None = None) -> pd.DataFrame:
    """One row per claim of every chapter at ``profile``; a chapter without saved verdicts gets
    one row saying it has not run."""
    store = store or RunStore()
    parts = []
    for chapter in chapters:
        path = _path(store, chapter, profile)
        if path.is_file():  # a table saved before claims had a kind holds claims only
            parts.append(_complete(_with_kind(pd.read_csv(path, keep_default_na=False))))
        else:
            parts.append(pd.DataFrame([{"chapter": chapter, "claim": "(this chapter has not run at this "
                                        "profile yet)", "paper": "", "this run": "", "profile": profile,
                                        "verdict": NOT_RUN, "kind": paper.CLAIM}]).pipe(_complete))
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
    """``table`` as an HTML table: the verdict first, coloured; chapter names link to the chapters'
    pages; the reference run's figure and verdict in two more columns where any chapter has one;
    a claim whose quick setting was tuned for its effect links to that deviation."""
    titles = titles or {}
    table = _complete(table)
    with_ref = bool((table["reference verdict"].astype(str) != "").any())
    has_seeds = table["seeds"].map(lambda v: pd.notna(v) and str(v) != "").any()
    shown = SHOWN if has_seeds else [c for c in SHOWN if c != "seeds"]
    rows = []
    for r in table.to_dict("records"):
        chapter, profile = str(r["chapter"]), str(r["profile"])
        link = f'<a href="{html.escape(chapter)}.html">{html.escape(titles.get(chapter, chapter))}</a>'
        tuned = paper.tuned_links(str(r["tuned"]), chapter, profile, f"{chapter}.html") if r["tuned"] else ""
        claim = html.escape(str(r["claim"])) + (f'<br><span class="tuned">{tuned}</span>' if tuned else "")
        seeds = str(int(float(r["seeds"]))) if pd.notna(r["seeds"]) and str(r["seeds"]) != "" else ""
        cells = [paper.verdict_html(str(r["verdict"])), link, claim, html.escape(str(r["paper"])),
                 html.escape(str(r["this run"]))] + ([seeds] if "seeds" in shown else [])
        if with_ref:
            ref = str(r["reference verdict"])
            cells += [html.escape(str(r["reference run"])), paper.verdict_html(ref) if ref else ""]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{c}</th>" for c in shown + (["reference run", "reference verdict"] if with_ref else []))
    return (f'<div class="wm-table"><table class="dashboard"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


COLOURS = {"reproduced": "#2e7d32", "inconclusive": "#f9a825", "not reproduced": "#c62828",
           "not comparable": "#757575", NOT_RUN: "#bdbdbd"}  # one per verdict, as in verdicts.css
SPAN = (-2.0, 3.0)  # the glance figure's axis: a figure beyond it sits at the edge, with an arrow


def glance(table: pd.DataFrame):
    """One row per claim of ``table``, coloured by verdict: this run's figure and interval on the rule's
    own scale (0: the rule's threshold, 1: the paper's figure; evidence.Test.margin). A claim whose
    verdict rests on no figure (not comparable, not run) shows its colour at the left edge."""
    import matplotlib.pyplot as plt

    table = _complete(table).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(table) + 1.2))
    lo_edge, hi_edge = SPAN
    for i, r in table.iterrows():
        colour = COLOURS.get(str(r["verdict"]), "#000000")
        values = [pd.to_numeric(r[k], errors="coerce") for k in ("margin", "low", "high")]
        if any(pd.isna(v) for v in values):
            ax.plot([lo_edge], [i], marker="s", color=colour, ms=6, clip_on=False)
            continue
        m, lo, hi = (min(max(v, lo_edge), hi_edge) for v in values)
        ax.plot([lo, hi], [i, i], color=colour, lw=2.5, solid_capstyle="round")
        marker = ">" if values[0] > hi_edge else "<" if values[0] < lo_edge else "o"
        ax.plot([m], [i], marker=marker, color=colour, ms=7, mec="white")
    ax.axvline(0, color="#424242", lw=1)
    ax.axvline(1, color="#424242", lw=1, ls=":")
    ax.set_xlim(lo_edge - 0.1, hi_edge + 0.1)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_yticks(range(len(table)))
    ax.set_yticklabels([f"{c}: {t[:56] + '…' if len(t) > 57 else t}"
                        for c, t in zip(table["chapter"], table["claim"].astype(str))], fontsize=7)
    ax.set_xlabel("this run on each rule's own scale\n"
                  "0 = the rule's threshold (solid), 1 = the paper's figure (dotted)", fontsize=8)
    handles = [plt.Line2D([], [], color=c, marker="o", lw=0, label=v) for v, c in COLOURS.items()
               if v in set(table["verdict"])]
    # above the axes, so that no claim's mark hides under it
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles), fontsize=7,
              frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
