"""What the paper reports, claim by claim, for the side-by-side tables of the book."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

VERDICTS = ("reproduced", "not reproduced", "not comparable")
LEARNED = 0.9  # accuracy below which a network has not learned its task: its claims are vacuous


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    paper: str   # the paper's figure or statement, as printed there
    source: str  # where in the paper


CLAIMS: dict[str, list[Claim]] = {
    "method": [
        Claim("mean", "Hard Gumbel-sigmoid samples are Bernoulli(sigmoid(l)) at every temperature",
              "E[b] = sigmoid(l), independent of tau", "App. A.3, A.4"),
        Claim("full-mask", "A mask trained on the full task keeps the network's performance",
              "only a slight drop (> 95% of the original)", "App. C.3"),
        Claim("binary", "Mask probabilities sigmoid(l) concentrate at 0 and 1, so thresholding is safe",
              "concentrated at 0 and 1", "Sec. 2 footnote 2, Fig. 9"),
    ],
    "addmul": [
        Claim("shared-ends", "Add and mul share more weights in the first and last layers than in "
              "hidden layers", "sharing highest at the input and output layers", "Sec. 3.1, Fig. 1"),
        Claim("mul-more", "Multiplication uses several times more weights than addition",
              "3.8x", "Sec. 3.1, Fig. 12"),
        Claim("fnn-follows-mask", "Under one operation's mask the FNN performs that operation "
              "whatever the selector says", "performs the masked operation", "App. C.4, Fig. 13"),
    ],
}

# Table 2 of the paper (FNN rows): accuracy [%] per tested operation under each mask.
ADDMUL_TABLE2 = pd.DataFrame(
    {"full": [100, 100], "add": [100, 0], "¬add": [13, 69], "mul": [1, 100], "¬mul": [20, 17]},
    index=pd.Index(["add", "mul"], name="op"))


def not_learned(measured: dict[str, tuple[str, str, str]], accuracy: float) -> dict[str, tuple[str, str, str]]:
    """Every verdict turned into 'not comparable' when the unmasked network's ``accuracy`` is
    below :data:`LEARNED`: masks of a network that cannot do the task show nothing."""
    if accuracy >= LEARNED:
        return measured
    why = f"the unmasked network has not learned the task (accuracy {accuracy:.0%} < {LEARNED:.0%})"
    return {k: (value, "not comparable", why) for k, (value, _, _) in measured.items()}


def verdict_table(experiment: str, measured: dict[str, tuple[str, str, str]]) -> pd.DataFrame:
    """Join the paper's claims with this run: ``measured[id] = (this run's figure, verdict, why)``."""
    rows = []
    for c in CLAIMS[experiment]:
        if c.id not in measured:
            raise KeyError(f"no measurement for claim {c.id!r} of {experiment}")
        value, verdict, why = measured[c.id]
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        rows.append({"claim": c.text, "paper": c.paper, "source": c.source, "this run": value,
                     "verdict": verdict, "why": why})
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
