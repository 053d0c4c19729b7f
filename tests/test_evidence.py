"""Figures with intervals, and rules judged on them: a straddled threshold is 'inconclusive'."""
import pytest

from weightmask import evidence
from weightmask.evidence import Test


def test_wilson_interval_matches_its_textbook_values():
    # Wilson 95% for 50/100: [0.404, 0.596]; for 0/20 the interval reaches 0 and is [0, 0.161]
    e = evidence.binomial(0.5, 100)
    assert e.low == pytest.approx(0.4038, abs=1e-3) and e.high == pytest.approx(0.5962, abs=1e-3)
    zero = evidence.binomial(0.0, 20)
    assert zero.low == 0.0 and zero.high == pytest.approx(0.1611, abs=1e-3)
    assert e.seeds == 1 and "Wilson" in e.basis and "100" in e.basis


def test_seed_interval_is_the_t_interval_of_the_mean():
    e = evidence.over_seeds([0.90, 0.92, 0.94])  # mean 0.92, sd 0.02, t(2) = 4.303
    half = 4.303 * 0.02 / 3 ** 0.5
    assert e.value == pytest.approx(0.92) and e.high - e.value == pytest.approx(half, rel=1e-3)
    assert e.seeds == 3 and e.spread
    one = evidence.over_seeds([0.7])
    assert not one.spread and one.seeds == 1 and "no spread" in one.basis
    assert evidence.t_quantile(100) == pytest.approx(evidence.Z)


def test_accuracy_takes_seeds_where_there_are_several_else_the_test_set():
    assert evidence.accuracy([0.8], 500).basis == evidence.binomial(0.8, 500).basis
    assert evidence.accuracy([0.8, 0.9], 500).seeds == 2


def test_a_rule_passes_fails_or_is_inconclusive_by_the_whole_interval():
    near = evidence.binomial(0.30, 100)  # [0.22, 0.40]
    assert Test("x", near, at_most=0.50).outcome() == "pass"
    assert Test("x", near, at_most=0.10).outcome() == "fail"
    assert Test("x", near, at_most=0.25).outcome() == "open"
    assert Test("x", near, at_least=0.2, at_most=0.45).outcome() == "pass"
    sure, open_, fail = (Test("a", near, at_most=t) for t in (0.5, 0.25, 0.1))
    assert evidence.decide([sure]) == "reproduced"
    assert evidence.decide([sure, open_]) == "inconclusive"
    assert evidence.decide([open_, fail]) == "not reproduced"


def test_margin_puts_the_threshold_at_zero_and_the_papers_figure_at_one():
    t = Test("kept", evidence.exact(0.9), at_least=0.8, paper=1.0)
    assert t.margin() == pytest.approx((0.5, 0.5, 0.5))
    below = Test("drop", evidence.exact(0.1), at_most=0.25, paper=0.05)  # passing side is downwards
    assert below.margin()[0] == pytest.approx(0.75)
    assert Test("x", evidence.exact(0.3), at_most=0.25, paper=0.05).margin()[0] < 0
    assert evidence.binding([t, below]) is t


@pytest.mark.parametrize("make, match", [
    (lambda: evidence.binomial(0.5, 0), "n"), (lambda: evidence.binomial(1.5, 10), "rate"),
    (lambda: evidence.over_seeds([]), "at least one"), (lambda: Test("x", evidence.exact(1.0)), "at_least"),
    (lambda: evidence.decide([]), "at least one"), (lambda: evidence.Estimate(1.0, 0.0, 0.5, 1, ""), "contain"),
])
def test_bad_input_is_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_difference_and_ratio_take_seeds_where_there_are_several_else_the_test_sets():
    d = evidence.difference([0.6], [0.4], 10_000)  # Newcombe: about +-1.4 points here
    assert d.value == pytest.approx(0.2) and d.low == pytest.approx(0.186, abs=2e-3) and d.seeds == 1
    assert evidence.difference([0.6, 0.7, 0.8], [0.4, 0.5, 0.6], 100).basis.startswith("mean of 3 seeds")
    r = evidence.ratio([0.949], [1.0], 10_000)  # MOVER-R: [94.4, 95.3]% for 9,490 of 10,000 over 10,000
    assert r.value == pytest.approx(0.949) and 0.943 < r.low < 0.946 and 0.952 < r.high < 0.954
    assert evidence.ratio([0.5, 0.6], [1.0, 1.0], 10).seeds == 2
    with pytest.raises(ValueError, match="paired"):
        evidence.difference([0.1, 0.2], [0.3], 10)
    with pytest.raises(ValueError, match="reference accuracy is 0"):
        evidence.ratio([0.1], [0.0], 10)


def test_a_figure_shows_its_interval_in_its_own_unit():
    assert evidence.exact(0.5).text() == "50%"
    assert evidence.over_seeds([-0.1, 0.05, 0.1]).text().endswith("to 28%]")
    assert evidence.over_seeds([3.6, 3.8, 4.0]).text(percent=False, digits=1, unit="x") == "3.8x [3.3–4.3x]"
    failing = Test("kept", evidence.exact(0.6), at_least=0.8)
    assert failing.failure() == "kept 0.6 < 0.8" and Test("kept", evidence.exact(0.9), at_least=0.8).failure() is None


def test_a_figure_over_units_of_one_seed_takes_its_interval_over_the_units():
    e = evidence.over_units([0.4, 0.5, 0.6], "classes")
    assert e.seeds == 1 and e.low < 0.5 < e.high and "3 classes" in e.basis
    assert not evidence.over_units([0.4], "classes").spread
    m = evidence.median_over_units(range(10), "classes")  # the 2nd and 9th of ten: coverage 97.9%
    assert (m.value, m.low, m.high) == (4.5, 1, 8) and "median of 10 classes" in m.basis
    assert (evidence.median_over_units([3, 1, 2], "pairs").low, evidence.median_over_units([3, 1, 2], "pairs").high) \
        == (1, 3)  # below 6 units: the smallest and the largest


def test_over_units_by_seed_takes_seeds_where_there_are_several_and_keeps_within_the_range():
    one = evidence.over_units_by_seed({0: [0.90, 0.95, 1.0]}, "pairs", within=(0.0, 1.0))
    assert one.seeds == 1 and one.high == 1.0 and one.low < 0.95 and "3 pairs" in one.basis
    several = evidence.over_units_by_seed({0: [0.1, 0.3], 1: [0.2, 0.4], 2: [0.3, 0.5]}, "classes")
    assert several.seeds == 3 and several.value == pytest.approx(0.3)  # the mean of the per-seed means
    median = evidence.over_units_by_seed({0: [0.0, 0.1, 0.9], 1: [0.1, 0.2, 0.8]}, "classes", median=True)
    assert median.value == pytest.approx(0.15)  # the mean of the per-seed medians
    assert evidence.over_units_by_seed({0: range(10)}, "classes", median=True).low == 1


def test_a_difference_shows_in_signed_percentage_points():
    assert evidence.difference([0.80], [0.77], 10_000).points() == "+3.0 points [1.9–4.1]"
    assert evidence.exact(-0.05).points() == "-5.0 points"
    assert evidence.over_seeds([-0.1, 0.05, 0.1]).points(digits=0) == "+2 points [-24 to 28]"
