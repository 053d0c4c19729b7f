"""Verdict tables: findings with intervals, seeds and tuned settings, shown verdict-first."""
import pandas as pd
import pytest

from weightmask import chapters, evidence, paper
from weightmask.experiments import doubleadd

OPEN = evidence.Test("kept", evidence.binomial(0.80, 100), at_least=0.8, paper=0.94)  # [0.71, 0.87]
SURE = evidence.Test("drop", evidence.over_seeds([0.02, 0.03, 0.01]), at_most=0.25, paper=0.02)


def _measured(finding):
    return {c.id: finding for c in doubleadd.CLAIMS}


def test_judged_names_what_straddles_its_threshold_and_counts_seeds():
    f = paper.judged("80%", [OPEN, SURE], "the rule")
    assert f.verdict == "inconclusive" and "kept 80% [71–87%] straddles 0.8" in f.why
    assert f.seeds == 1  # the fewest of its figures: the binomial one rests on one run
    assert paper.judged("x", [SURE], "the rule").verdict == "reproduced"


def test_verdict_table_carries_seeds_and_the_binding_figure_on_the_rules_scale():
    table = paper.verdict_table("doubleadd", _measured(paper.judged("80%", [OPEN, SURE], "r")))
    row = table.iloc[0]
    assert row["verdict"] == "inconclusive" and row["seeds"] == 1
    assert row["margin"] == pytest.approx(0.0) and row["low"] < 0 < row["high"]  # 80% sits on the 80% edge
    plain = paper.verdict_table("doubleadd", _measured(("42%", "not comparable", "untrained")))
    assert plain["margin"].isna().all() and plain["seeds"].isna().all()
    with pytest.raises(ValueError, match="verdict must be one of"):
        paper.Finding("1", "maybe", "why")


def test_not_learned_drops_the_tests_with_the_verdict():
    out = paper.not_learned({"a": paper.judged("x", [SURE], "r")}, accuracy=0.3)
    assert out["a"].verdict == "not comparable" and out["a"].tests == () and "30%" in out["a"].why


def test_styled_puts_the_verdict_first_coloured_and_escapes_the_text(monkeypatch):
    monkeypatch.setattr(doubleadd, "DEVIATIONS", [paper.Deviation("lr", "fnn.mask_lr", "1e-2", "slow")],
                        raising=False)
    claims = [paper.Claim(c.id, c.text + " <b>", c.paper, c.source, tuned=("lr",)) for c in doubleadd.CLAIMS]
    monkeypatch.setattr(doubleadd, "CLAIMS", claims)
    table = paper.verdict_table("doubleadd", _measured(paper.judged("a < b", [SURE], "r")))
    page = paper.styled(table, "doubleadd", "quick").to_html()
    assert page.index("verdict reproduced") < page.index("a &lt; b")
    assert "&lt;b&gt;" in page and 'href="#deviation-lr"' in page and "fnn.mask_lr = 0.06" in page
    # at the paper profile the setting is the paper's: no link
    assert "deviation-lr" not in paper.styled(table, "doubleadd", "paper").to_html()


def test_deviations_show_every_profile_and_unknown_ids_are_refused(monkeypatch):
    monkeypatch.setattr(doubleadd, "DEVIATIONS", [paper.Deviation("lr", "fnn.mask_lr", "1e-2", "a < reason",
                                                                 authors="1e-2 (Adam)")], raising=False)
    page = paper.deviations_html("doubleadd")
    assert 'id="deviation-lr"' in page and "<td>0.06</td>" in page and "a &lt; reason" in page
    assert "1e-2 (Adam)" in page and all(f"<th>{p}</th>" in page for p in chapters.get("doubleadd").profiles)
    with pytest.raises(KeyError, match="undeclared deviations"):
        paper.tuned_links("beta", "doubleadd", "quick")


def test_differences_that_are_no_setting_show_below_the_settings(monkeypatch):
    assert "not a setting" not in paper.deviations_html("doubleadd")
    monkeypatch.setattr(doubleadd, "DIFFERENCES", [paper.Difference("a part", "theirs <x>", "ours", "why")],
                        raising=False)
    page = paper.deviations_html("doubleadd")
    assert "<th>not a setting</th>" in page and "<td>theirs &lt;x&gt;</td>" in page
    assert page.index('id="deviation-') < page.index("not a setting")
    assert "bias=False" in paper.deviations_html("scan") and "bias=False" in paper.deviations_html("mathematics")


def test_with_reference_puts_the_reference_run_beside_each_claim():
    table = paper.verdict_table("doubleadd", _measured(("1%", "reproduced", "r")))
    ref = paper.verdict_table("doubleadd", _measured(("2%", "not reproduced", "r")))
    both = paper.with_reference(table, ref)
    assert list(both["reference verdict"]) == ["not reproduced"] * len(table)
    assert paper.with_reference(table, None) is table
    with pytest.raises(KeyError, match="no verdict"):
        paper.with_reference(table, ref.iloc[:1])
    assert isinstance(paper.styled(both, "doubleadd", "quick").data, pd.DataFrame)
