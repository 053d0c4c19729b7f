"""Choosing the regularization strength alpha by the paper's rule (App. C.3).

"We increase alpha as long as the performance does not start to drop. Then, we reduce alpha
slightly until the performance is adequate, e.g. > 95% of the original performance."
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd


@dataclass
class AlphaChoice:
    """The chosen alpha, the performance it keeps, and every alpha tried (``tried``: alpha, score, ok)."""

    alpha: float
    score: float
    tried: pd.DataFrame


def choose_alpha(score: Callable[[float], float], reference: float, *, start: float = 1e-7,
                 factor: float = 10.0, keep: float = 0.95, refine: int = 3,
                 max_alpha: float = 1.0) -> AlphaChoice:
    """The largest alpha whose mask keeps ``keep`` of the ``reference`` performance.

    ``score(alpha)`` trains a mask on the full task with that alpha and returns its performance
    (e.g. accuracy; higher is better), ``reference`` is the unmasked network's. Alpha grows by
    ``factor`` from ``start`` until the score falls below ``keep * reference``; then ``refine``
    bisection steps (in log space) between the last good and the first bad alpha back off to
    the largest good one. Each call of ``score`` is one mask training, so the default tries
    about a dozen.
    """
    if not (reference > 0 and math.isfinite(reference)):
        raise ValueError(f"reference must be a positive performance, got {reference!r}")
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep!r}")
    if not factor > 1:
        raise ValueError(f"factor must be > 1, got {factor!r}")
    if not 0 < start <= max_alpha:
        raise ValueError(f"start must be in (0, max_alpha={max_alpha!r}], got {start!r}")
    if isinstance(refine, bool) or not isinstance(refine, int) or refine < 0:
        raise ValueError(f"refine must be a non-negative integer, got {refine!r}")
    rows: list[dict] = []

    def ok(alpha: float) -> bool:
        s = float(score(alpha))
        rows.append({"alpha": alpha, "score": s, "ok": s >= keep * reference})
        return rows[-1]["ok"]

    if not ok(start):
        raise ValueError(f"even alpha={start:g} loses more than {1 - keep:.0%} of the performance "
                         f"(score {rows[-1]['score']:.4g} vs reference {reference:.4g}); "
                         "train longer, or start lower")
    good, bad = start, None
    while good * factor <= max_alpha:
        if not ok(good * factor):
            bad = good * factor
            break
        good *= factor
    if bad is not None:
        for _ in range(refine):
            mid = math.sqrt(good * bad)
            if ok(mid):
                good = mid
            else:
                bad = mid
    tried = pd.DataFrame(rows)
    best = float(tried.loc[tried["alpha"] == good, "score"].iloc[-1])
    return AlphaChoice(alpha=good, score=best, tried=tried.sort_values("alpha", ignore_index=True))
