"""What the paper reports, claim by claim, for the side-by-side tables of the book.

Each chapter's claims are its experiment module's ``CLAIMS`` (a list of :class:`Claim`);
:func:`verdict_table` finds them through the chapter registry.
"""
from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from . import chapters
from .evidence import Test, binding, decide

# "inconclusive": the figure's interval straddles the rule's threshold (weightmask.evidence.decide)
VERDICTS = ("reproduced", "inconclusive", "not reproduced", "not comparable")
CLAIM, METHOD_CHECK = "claim", "method check"
# A claim is a finding of the paper, which a run can contradict. A method check tests this
# implementation against what holds by construction (a proof of App. A, a protocol that freezes
# weights): it can fail only through a bug, so it is shown apart and never counted as a finding.
KINDS = (CLAIM, METHOD_CHECK)
LEARNED = 0.9  # accuracy below which a network has not learned its task: its claims are vacuous
IMAGES_LEARNED = 0.70  # the same for a 10-class image classifier (CPU-sized CNNs on CIFAR-10)
MNIST_LEARNED = 0.85  # the same for a permuted-MNIST task (an FNN on the 8,000 offline digits)


@dataclass(frozen=True)
class Claim:
    """One statement of the paper that a chapter checks."""

    id: str
    text: str
    paper: str   # the paper's figure or statement, as printed there
    source: str  # where in the paper
    kind: str = CLAIM  # one of KINDS
    tuned: tuple[str, ...] = ()  # ids of the chapter's DEVIATIONS chosen so that this claim's effect shows

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


SMOKE = "smoke only shows that the code runs end to end"  # why a smoke setting differs: every chapter's reason


@dataclass(frozen=True)
class Deviation:
    """A setting of a chapter's profile that differs from the paper (and the authors' code), and why.

    ``setting`` is its path in the chapter's ``PROFILES`` (``"lstm.beta"``), so that the page shows
    each profile's value beside the paper's. A claim lists in ``Claim.tuned`` the deviations chosen so
    that its effect becomes visible at a small profile, and its verdict links to them."""

    id: str
    setting: str
    paper: str    # the paper's value (its text or appendix)
    reason: str
    authors: str = ""  # the authors' code's value (github.com/RobertCsordas/modules), where it says more

    def value(self, config: dict):
        """This setting's value in a profile's ``config``."""
        node = config
        for key in self.setting.split("."):
            node = node[key]
        return node


@dataclass(frozen=True)
class Difference:
    """A part of a chapter's procedure that differs from the authors' code and is no profile setting (a
    network's architecture, say): what it is, theirs, ours at every profile, and why it stays."""

    what: str
    authors: str
    here: str
    reason: str


@dataclass(frozen=True)
class Finding:
    """This run's side of one claim: the figure as shown, the verdict and why, and the tests the
    verdict rests on (each a figure with its interval against a threshold, see evidence.Test)."""

    value: str
    verdict: str
    why: str
    tests: tuple[Test, ...] = ()

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    @property
    def seeds(self) -> int | None:
        """How many seeds the verdict rests on (the fewest of its tests' figures)."""
        return min(t.estimate.seeds for t in self.tests) if self.tests else None


SHOWN_FAILURES = 3  # failing figures a verdict's why names


def judged(value: str, tests: Sequence[Test], why: str) -> Finding:
    """The finding whose verdict ``tests`` decide (evidence.decide). The why states the rule and names
    the figures that fail it over their whole interval (at most :data:`SHOWN_FAILURES`), or, for an
    inconclusive one, those whose interval straddles their threshold."""
    tests = tuple(tests)
    verdict = decide(tests)
    failed = [f for f in (t.failure() for t in tests) if f]
    if failed:
        more = [f"{len(failed) - SHOWN_FAILURES} more"] if len(failed) > SHOWN_FAILURES else []
        why = f"{why}; fails: {'; '.join(failed[:SHOWN_FAILURES] + more)}"
    elif verdict == "inconclusive":
        open_ = [f"{t.what} {t.estimate.text(percent=t.edge <= 1)} straddles {t.edge:g}"
                 for t in tests if t.outcome() == "open"]
        why = f"{why}; inconclusive: {'; '.join(open_)}"
    return Finding(value, verdict, why, tests)


def _finding(measured) -> Finding:
    return measured if isinstance(measured, Finding) else Finding(*measured)


# Table 2 of the paper: accuracy [%] per network and tested operation under each mask.
ADDMUL_TABLE2 = pd.DataFrame(
    {"full": [100, 100, 100, 100], "add": [100, 0, 100, 3], "¬add": [13, 69, 2, 6],
     "mul": [1, 100, 2, 100], "¬mul": [20, 17, 1, 2]},
    index=pd.MultiIndex.from_product([["FNN", "LSTM"], ["add", "mul"]], names=["net", "op"]))


# Tables 1 and 3 of the paper: accuracy [%] per network and tested pair under each mask
# (Table 3 inverts only the hidden layers and keeps the full-task mask on input and output).
_DOUBLEADD_ROWS = pd.MultiIndex.from_product([["FNN", "LSTM", "LSTM (forced)"], ["pair1", "pair2"]],
                                             names=["net", "pair"])
DOUBLEADD_TABLE1 = pd.DataFrame(
    {"full": [100] * 6, "pair1": [100, 1, 100, 1, 100, 1], "¬pair1": [20, 94, 2, 100, 4, 96],
     "pair2": [1, 100, 1, 100, 1, 100], "¬pair2": [92, 21, 99, 2, 99, 3]}, index=_DOUBLEADD_ROWS)
DOUBLEADD_TABLE3 = pd.DataFrame(
    {"full": [100] * 6, "pair1": [100, 1, 100, 1, 100, 1], "¬pair1": [7, 62, 16, 97, 25, 94],
     "pair2": [1, 100, 1, 100, 1, 100], "¬pair2": [63, 8, 99, 16, 76, 42]}, index=_DOUBLEADD_ROWS)


def not_learned(measured: dict, accuracy: float, threshold: float = LEARNED) -> dict[str, Finding]:
    """Every verdict turned into 'not comparable' when the unmasked network's ``accuracy`` is
    below ``threshold``: masks of a network that cannot do the task show nothing."""
    measured = {k: _finding(m) for k, m in measured.items()}
    if accuracy >= threshold:
        return measured
    why = f"the network has not learned the task (accuracy {accuracy:.0%} < {threshold:.0%})"
    return {k: Finding(m.value, "not comparable", why) for k, m in measured.items()}


def verdict_table(experiment: str, measured: dict) -> pd.DataFrame:
    """Join the paper's claims with this run: ``measured[id]`` is a :class:`Finding` (or a tuple
    ``(this run's figure, verdict, why)`` for a verdict that rests on no interval).

    The column ``kind`` tells the paper's claims from the checks of the method (:data:`KINDS`);
    ``seeds`` is how many seeds a verdict rests on; ``margin``/``low``/``high`` place the binding
    test's figure and interval on the rule's own scale (evidence.Test.margin) for the dashboard."""
    rows = []
    for c in chapters.get(experiment).claims:
        if c.id not in measured:
            raise KeyError(f"no measurement for claim {c.id!r} of {experiment}")
        f = _finding(measured[c.id])
        margin = binding(f.tests).margin() if f.tests and f.verdict != "not comparable" else (math.nan,) * 3
        rows.append({"claim": c.text, "paper": c.paper, "source": c.source, "this run": f.value,
                     "verdict": f.verdict, "why": f.why, "kind": c.kind,
                     "seeds": f.seeds if f.seeds is not None else pd.NA, "tuned": ",".join(c.tuned),
                     "margin": margin[0], "low": margin[1], "high": margin[2]})
    return pd.DataFrame(rows)


def with_reference(table: pd.DataFrame, reference: pd.DataFrame | None) -> pd.DataFrame:
    """``table`` with the reference run's figure and verdict beside each claim (GPU, paper profile).

    Without a reference the table is returned unchanged, so a chapter renders either way.
    """
    if reference is None:
        return table
    ref = reference.set_index("claim")[["this run", "verdict"]]
    ref.columns = ["reference run", "reference verdict"]
    missing = set(table["claim"]) - set(ref.index)
    if missing:
        raise KeyError(f"the reference has no verdict for {sorted(missing)}")
    return table.join(ref, on="claim")


SHOWN = ["verdict", "claim", "paper", "this run", "seeds", "why", "source"]  # a verdict table's columns, as shown


def tuned_links(ids: str, chapter: str, profile: str, page: str = "") -> str:
    """HTML links from a verdict row to the deviations of ``chapter`` that were tuned at ``profile``
    so that the claim's effect shows (none at a profile that uses the paper's value)."""
    if not ids:
        return ""
    module, config = chapters.get(chapter).module, chapters.get(chapter).profiles[profile]
    declared = {d.id: d for d in getattr(module, "DEVIATIONS", ())}
    unknown = [i for i in ids.split(",") if i not in declared]
    if unknown:
        raise KeyError(f"{chapter}: claims name undeclared deviations {unknown}; declared: {sorted(declared)}")
    links = [f'<a href="{page}#deviation-{d.id}">{html.escape(d.setting)} = {d.value(config)!r} '
             f'(paper {html.escape(d.paper)})</a>' for d in (declared[i] for i in ids.split(","))
             if repr(d.value(config)) != repr(d.value(chapters.get(chapter).profiles["paper"]))]
    return ("tuned at this profile: " + ", ".join(links)) if links else ""


def deviations_html(chapter: str) -> str:
    """The chapter's declared deviations as an HTML table: each setting at every profile beside the
    paper's value, and why (the rows verdicts link to, by ``#deviation-<id>``)."""
    ch = chapters.get(chapter)
    names = list(ch.profiles)
    head = "".join(f"<th>{h}</th>" for h in ["setting", "paper", "authors' code", *names, "why"])
    rows = []
    for d in getattr(ch.module, "DEVIATIONS", ()):
        cells = [f"<code>{html.escape(d.setting)}</code>", html.escape(d.paper), html.escape(d.authors or d.paper),
                 *(html.escape(repr(d.value(ch.profiles[p]))) for p in names), html.escape(d.reason)]
        rows.append(f'<tr id="deviation-{d.id}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    table = f'<div class="wm-table"><table class="deviations"><thead><tr>{head}</tr></thead>' \
            f'<tbody>{"".join(rows)}</tbody></table></div>'
    return table + differences_html(getattr(ch.module, "DIFFERENCES", ()))


def differences_html(differences) -> str:
    """A chapter's :class:`Difference` list as an HTML table (empty when there is none)."""
    if not differences:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("not a setting", "authors' code", "here, at every profile", "why"))
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in (d.what, d.authors, d.here, d.reason))
                   + "</tr>" for d in differences)
    return f'<div class="wm-table"><table class="deviations differences"><thead><tr>{head}</tr></thead>' \
           f'<tbody>{rows}</tbody></table></div>'


def verdict_html(verdict: str) -> str:
    """A verdict as a coloured badge (the CSS classes of book/_static/verdicts.css)."""
    return f'<span class="verdict {verdict.replace(" ", "-")}">{html.escape(verdict)}</span>'


def styled(table: pd.DataFrame, chapter: str, profile: str):
    """A chapter's verdict table (from :func:`verdict_table`, optionally :func:`with_reference`) as the
    page shows it: the verdict first and coloured, the seeds it rests on, links to tuned settings."""
    shown = table.copy()
    why = shown["why"].map(html.escape)
    links = shown["tuned"].map(lambda ids: tuned_links(ids, chapter, profile))
    shown["why"] = [w + (f'<br><span class="tuned">{t}</span>' if t else "") for w, t in zip(why, links)]
    for col in ("verdict", "reference verdict"):
        if col in shown:
            shown[col] = shown[col].map(verdict_html)
    for col in ("claim", "paper", "this run", "source", "reference run"):
        if col in shown:
            shown[col] = shown[col].astype(str).map(html.escape)
    shown["seeds"] = shown["seeds"].map(lambda n: "" if pd.isna(n) else str(int(n)))
    cols = [c for c in SHOWN if c != "seeds" or (shown["seeds"] != "").any()]  # no seeds column where none has any
    cols += [c for c in ("reference run", "reference verdict") if c in shown]
    return shown[cols].style.hide(axis="index").set_table_attributes('class="verdicts"')
