"""What the paper reports, claim by claim, for the side-by-side tables of the book.

Each chapter's claims are its experiment module's ``CLAIMS`` (a list of :class:`Claim`);
:func:`verdict_table` finds them through the chapter registry.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import chapters

VERDICTS = ("reproduced", "not reproduced", "not comparable")
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

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")


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


def not_learned(measured: dict[str, tuple[str, str, str]], accuracy: float,
                threshold: float = LEARNED) -> dict[str, tuple[str, str, str]]:
    """Every verdict turned into 'not comparable' when the unmasked network's ``accuracy`` is
    below ``threshold``: masks of a network that cannot do the task show nothing."""
    if accuracy >= threshold:
        return measured
    why = f"the network has not learned the task (accuracy {accuracy:.0%} < {threshold:.0%})"
    return {k: (value, "not comparable", why) for k, (value, _, _) in measured.items()}


def verdict_table(experiment: str, measured: dict[str, tuple[str, str, str]]) -> pd.DataFrame:
    """Join the paper's claims with this run: ``measured[id] = (this run's figure, verdict, why)``.

    The column ``kind`` tells the paper's claims from the checks of the method (:data:`KINDS`)."""
    rows = []
    for c in chapters.get(experiment).claims:
        if c.id not in measured:
            raise KeyError(f"no measurement for claim {c.id!r} of {experiment}")
        value, verdict, why = measured[c.id]
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        rows.append({"claim": c.text, "paper": c.paper, "source": c.source, "this run": value,
                     "verdict": verdict, "why": why, "kind": c.kind})
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
