"""A measured figure with its uncertainty, and a rule's condition judged on it.

A verdict rests on figures that scatter: across seeds, and over a finite test set. An
:class:`Estimate` carries a figure with a 95% interval (a t-interval of the mean over seeds,
or a Wilson interval over the test samples of a single run); a :class:`Test` states one
condition of a rule (``at_least`` / ``at_most`` a threshold) beside the paper's own figure;
:func:`decide` calls a rule "inconclusive" when an interval straddles a threshold.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

LEVEL = 0.95  # every interval of the book
Z = NormalDist().inv_cdf(0.5 + LEVEL / 2)
# Student's t at 97.5% by degrees of freedom (1-30); beyond, the normal quantile is within 2%.
_T = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
      2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
      2.045, 2.042)


def t_quantile(df: int) -> float:
    """The two-sided 95% quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"df must be >= 1, got {df}")
    return _T[df - 1] if df <= len(_T) else Z


@dataclass(frozen=True)
class Estimate:
    """A figure and its 95% interval; ``seeds`` is how many runs it rests on."""

    value: float
    low: float
    high: float
    seeds: int
    basis: str  # how the interval was obtained, for the reader

    def __post_init__(self):
        if not self.low <= self.value <= self.high:
            raise ValueError(f"the interval [{self.low}, {self.high}] must contain the value {self.value}")

    @property
    def spread(self) -> bool:
        """Whether the interval says anything (a single run of a figure without samples has none)."""
        return self.high > self.low

    def text(self, percent: bool = True, digits: int = 0, unit: str = "") -> str:
        """``"94% [91–97%]"``; ``percent=False``: ``"3.8x [3.1–4.5x]"`` with ``digits=1, unit="x"``."""
        f = (lambda v: f"{v:.{digits}%}") if percent else (lambda v: f"{v:.{digits}f}{unit}")
        if not self.spread:
            return f(self.value)
        end = "%" if percent else unit
        low = f(self.low)[:len(f(self.low)) - len(end)] if end else f(self.low)
        return f"{f(self.value)} [{low}{' to ' if self.low < 0 else '–'}{f(self.high)}]"

    def points(self, digits: int = 1) -> str:
        """A difference of two accuracies in percentage points, signed: ``"+3.0 points [1.9–4.1]"``."""
        def f(v, sign="+"):
            return f"{100 * v:{sign}.{digits}f}"
        if not self.spread:
            return f"{f(self.value)} points"
        return f"{f(self.value)} points [{f(self.low, '')}{' to ' if self.low < 0 else '–'}{f(self.high, '')}]"


def exact(value: float, seeds: int = 1) -> Estimate:
    """A figure without a measurable spread (one run, and no samples to resample)."""
    return Estimate(float(value), float(value), float(value), seeds, f"{seeds} seed(s), no spread measurable")


def over_seeds(values: Iterable[float]) -> Estimate:
    """The mean of one figure per seed with the t-interval of the mean; one seed: :func:`exact`."""
    v = [float(x) for x in values]
    if not v:
        raise ValueError("over_seeds needs at least one value")
    mean = sum(v) / len(v)
    if len(v) == 1:
        return exact(mean)
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1))
    half = t_quantile(len(v) - 1) * sd / math.sqrt(len(v))
    return Estimate(mean, min(mean, mean - half), max(mean, mean + half), len(v),
                    f"mean of {len(v)} seeds, t-interval")


def binomial(rate: float, n: int, seeds: int = 1) -> Estimate:
    """An accuracy ``rate`` over ``n`` test samples with its Wilson interval."""
    if n < 1:
        raise ValueError(f"n (test samples) must be >= 1, got {n}")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    z = Z
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n))
    return Estimate(rate, min(rate, max(0.0, centre - half)), max(rate, min(1.0, centre + half)), seeds,
                    f"{seeds} seed(s), Wilson interval over {n:,} test samples")


def accuracy(per_seed: Sequence[float], n_test: int) -> Estimate:
    """An accuracy measured on ``n_test`` samples per seed: the spread across seeds where there are
    several, else the binomial interval of the single run."""
    if len(per_seed) > 1:
        return over_seeds(per_seed)
    return binomial(float(per_seed[0]), n_test)


def _paired(a: Sequence[float], b: Sequence[float]) -> tuple[list[float], list[float]]:
    a, b = [float(x) for x in a], [float(y) for y in b]
    if len(a) != len(b) or not a:
        raise ValueError(f"one value per seed in both, paired by position; got {len(a)} and {len(b)}")
    return a, b


def difference(a: Sequence[float], b: Sequence[float], n_test: int) -> Estimate:
    """Accuracy ``a`` minus accuracy ``b``, one value per seed each (paired by position): over several
    seeds the t-interval of the per-seed differences; from one seed Newcombe's interval, built from the
    two Wilson intervals over ``n_test`` samples each."""
    a, b = _paired(a, b)
    if len(a) > 1:
        return over_seeds([x - y for x, y in zip(a, b)])
    x, y = binomial(a[0], n_test), binomial(b[0], n_test)
    d = x.value - y.value
    return Estimate(d, d - math.hypot(x.value - x.low, y.high - y.value),
                    d + math.hypot(x.high - x.value, y.value - y.low), 1,
                    f"1 seed, Newcombe interval over {n_test:,} test samples each")


def ratio(a: Sequence[float], b: Sequence[float], n_test: int) -> Estimate:
    """Accuracy ``a`` relative to accuracy ``b`` (e.g. masked / unmasked), one value per seed each: over
    several seeds the t-interval of the per-seed ratios; from one seed the MOVER-R interval of a ratio of
    two proportions (Zou & Donner 2008) from their Wilson intervals over ``n_test`` samples each. Taking
    the two as independent when they score the same samples widens it: an effect errs to inconclusive."""
    a, b = _paired(a, b)
    if len(a) > 1:
        return over_seeds([x / max(y, 1 / n_test) for x, y in zip(a, b)])
    q, p = a[0], b[0]
    if p <= 0:
        raise ValueError("ratio: the reference accuracy is 0, a ratio to it means nothing")
    x, y = binomial(q, n_test), binomial(p, n_test)
    r = q / p
    lo_den, hi_den = y.high * (2 * p - y.high), y.low * (2 * p - y.low)
    lo_disc = (q * p) ** 2 - x.low * y.high * (2 * q - x.low) * (2 * p - y.high)
    hi_disc = (q * p) ** 2 - x.high * y.low * (2 * q - x.high) * (2 * p - y.low)
    if min(lo_den, hi_den) <= 0 or min(lo_disc, hi_disc) < 0:  # MOVER-R needs p away from 0: the ends instead
        low, high = x.low / y.high, (x.high / y.low if y.low > 0 else math.inf)
    else:
        low, high = (q * p - math.sqrt(lo_disc)) / lo_den, (q * p + math.sqrt(hi_disc)) / hi_den
    return Estimate(r, min(r, max(0.0, low)), max(r, high), 1,
                    f"1 seed, MOVER-R interval over {n_test:,} test samples each")


# A figure that is a mean (or median) over units of one seed (classes, pairs of classes) takes its interval over
# those units where there is one seed, and over the seeds' figures where there are several.

def over_units(values: Sequence[float], unit: str) -> Estimate:
    """The mean of one figure per ``unit`` of a single seed (a class, a pair) with the t-interval of the mean."""
    v = [float(x) for x in values]
    e = over_seeds(v)
    return e if len(v) == 1 else dataclasses.replace(e, seeds=1, basis=f"1 seed, t-interval over {len(v)} {unit}")


def median_over_units(values: Sequence[float], unit: str) -> Estimate:
    """The median of one figure per ``unit`` of a single seed with its distribution-free interval: the order
    statistics [v_(k), v_(n+1-k)] with the largest k whose coverage is at least 95% (n = 10: the 2nd and 9th
    of 10, 97.9%; below 6 units, the smallest and the largest)."""
    v = sorted(float(x) for x in values)
    if not v:
        raise ValueError("median_over_units needs at least one value")
    n, k = len(v), 1
    while k < (n + 1) // 2 and 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n <= 1 - LEVEL:
        k += 1
    return Estimate(statistics.median(v), v[k - 1], v[n - k], 1, f"1 seed, median of {n} {unit}, order-statistic "
                    "interval")


def over_units_by_seed(figures: Mapping[int, Sequence[float]], unit: str, median: bool = False,
                       within: tuple[float, float] | None = None) -> Estimate:
    """The mean (``median``: the median) over units of ``figures[seed]``, one value per ``unit``: over several
    seeds the t-interval of the per-seed figure; from one seed the interval over its units (:func:`over_units`,
    :func:`median_over_units`). ``within``: the figure's range (a share's [0, 1]), to which the interval is cut."""
    if len(figures) > 1:
        e = over_seeds([statistics.median(v) if median else statistics.fmean(v) for v in figures.values()])
    else:
        (values,) = figures.values()
        e = median_over_units(values, unit) if median else over_units(values, unit)
    if within is None:
        return e
    return dataclasses.replace(e, low=max(e.low, min(within[0], e.value)), high=min(e.high, max(within[1], e.value)))


@dataclass(frozen=True)
class Test:
    """One condition of a rule: ``estimate`` at least / at most a threshold (or both: a band).

    ``paper`` is the paper's own figure for the same quantity, where it prints one: the
    dashboard's glance figure draws each run between the rule's edge and the paper's figure."""

    __test__ = False  # not a pytest test class, though its name says Test

    what: str
    estimate: Estimate
    at_least: float | None = None
    at_most: float | None = None
    paper: float | None = None

    def __post_init__(self):
        if self.at_least is None and self.at_most is None:
            raise ValueError(f"test {self.what!r} needs at_least or at_most")

    def failure(self) -> str | None:
        """What fails over the whole interval (``"kept 0.61 [0.58, 0.64] < 0.8"``), else None."""
        e = self.estimate
        shown = f"{e.value:.3g}" + (f" [{e.low:.3g}, {e.high:.3g}]" if e.spread else "")
        if self.at_least is not None and e.high < self.at_least:
            return f"{self.what} {shown} < {self.at_least:.3g}"
        if self.at_most is not None and e.low > self.at_most:
            return f"{self.what} {shown} > {self.at_most:.3g}"
        return None

    def outcome(self) -> str:
        """"pass" when the whole interval meets the condition, "fail" when none of it does, else "open"."""
        e, lo, hi = self.estimate, self.at_least, self.at_most
        sure = (lo is None or e.low >= lo) and (hi is None or e.high <= hi)
        never = (lo is not None and e.high < lo) or (hi is not None and e.low > hi)
        return "pass" if sure else "fail" if never else "open"

    @property
    def edge(self) -> float:
        """The threshold nearest to the figure (the binding one of a band)."""
        edges = [t for t in (self.at_least, self.at_most) if t is not None]
        return min(edges, key=lambda t: abs(t - self.estimate.value))

    def margin(self) -> tuple[float, float, float]:
        """The figure and its interval on the rule's own scale: 0 at the binding threshold, 1 at the
        paper's figure (where it prints one on the passing side, else one threshold's width), so
        that claims in percent, ratios and counts share one axis; positive is on the passing side."""
        e, edge = self.estimate, self.edge
        sign = 1.0 if (self.at_least is not None and edge == self.at_least) else -1.0
        scale = sign * (self.paper - edge) if self.paper is not None else 0.0
        if scale <= 0:  # no paper figure on the passing side: one threshold's width, else 10 points
            scale = abs(edge) or 0.1
        ends = sorted(sign * (x - edge) / scale for x in (e.low, e.high))
        return sign * (e.value - edge) / scale, ends[0], ends[1]


def decide(tests: Iterable[Test]) -> str:
    """A rule made of ``tests`` (all must hold): "reproduced" when every test passes over its whole
    interval, "not reproduced" when one fails over its whole interval, else "inconclusive"."""
    outcomes = [t.outcome() for t in tests]
    if not outcomes:
        raise ValueError("decide needs at least one test")
    if "fail" in outcomes:
        return "not reproduced"
    return "reproduced" if all(o == "pass" for o in outcomes) else "inconclusive"


def binding(tests: Sequence[Test]) -> Test:
    """The test that decides the rule: the one nearest to failing, on the rule's own scale."""
    return min(tests, key=lambda t: t.margin()[1])
