"""The results dashboard: chapters' verdicts saved, collected in order, linked, never invented."""
import pandas as pd
import pytest

from weightmask import chapters, dashboard, paper
from weightmask.store import RunStore


def _verdicts(experiment="doubleadd", verdict="reproduced"):
    measured = {c.id: ("42%", verdict, "because") for c in chapters.get(experiment).claims}
    return paper.verdict_table(experiment, measured)


def test_saved_verdicts_come_back_in_chapter_order_and_missing_chapters_say_so(tmp_path):
    store = RunStore(tmp_path)
    dashboard.save("doubleadd", _verdicts(), "quick", store)
    dashboard.save("addmul", _verdicts("addmul", "not reproduced"), "quick", store)
    dashboard.save("addmul", _verdicts("addmul"), "smoke", store)  # another profile: kept apart
    table = dashboard.collect(["addmul", "method", "doubleadd"], "quick", store)
    assert list(table.columns) == dashboard.COLUMNS
    n = {c: len(chapters.get(c).claims) for c in ("addmul", "doubleadd")}
    assert table["chapter"].tolist() == ["addmul"] * n["addmul"] + ["method"] + ["doubleadd"] * n["doubleadd"]
    assert set(table[table["chapter"] == "addmul"]["verdict"]) == {"not reproduced"}
    assert table[table["chapter"] == "method"]["verdict"].tolist() == ["not run"]
    assert (table["profile"] == "quick").all() and table["this run"].iloc[0] == "42%"


def test_html_links_chapters_and_escapes_text(tmp_path):
    table = pd.DataFrame([{"chapter": "addmul", "claim": "a < b", "paper": "3.8x", "this run": "2.1x",
                           "profile": "quick", "verdict": "not reproduced"}])
    out = dashboard.to_html(table, {"addmul": "Addition / multiplication"})
    assert '<a href="addmul.html">Addition / multiplication</a>' in out
    assert "a &lt; b" in out and 'class="verdict not-reproduced"' in out


def test_bad_input_is_refused(tmp_path):
    with pytest.raises(ValueError, match="missing columns"):
        dashboard.save("addmul", pd.DataFrame({"claim": ["x"]}), "quick", RunStore(tmp_path))
    with pytest.raises(ValueError, match="unknown profile"):
        dashboard.save("addmul", _verdicts("addmul"), "fast", RunStore(tmp_path))


def test_method_checks_are_apart_and_only_the_papers_claims_are_counted(tmp_path):
    store = RunStore(tmp_path)
    dashboard.save("method", _verdicts("method", "not reproduced"), "quick", store)
    dashboard.save("pmnist", _verdicts("pmnist"), "quick", store)
    table = dashboard.collect(["method", "pmnist", "addmul"], "quick", store)
    checks = dashboard.method_checks(table)
    assert [(r.chapter, r.kind) for r in checks.itertuples()] == [("method", paper.METHOD_CHECK),
                                                                   ("pmnist", paper.METHOD_CHECK)]
    claims = dashboard.claims(table)
    assert (claims["kind"] == paper.CLAIM).all() and len(claims) + len(checks) == len(table)
    method, pmnist = (sum(c.kind == paper.CLAIM for c in chapters.get(n).claims) for n in ("method", "pmnist"))
    assert dashboard.counts(claims) == f"{pmnist} reproduced, {method} not reproduced, 1 not run"
    assert dashboard.counts(checks) == "1 reproduced, 1 not reproduced"
    assert dashboard.counts(checks.iloc[:0]) == "none"
    assert "kind" not in dashboard.to_html(checks) and "<td>method check</td>" not in dashboard.to_html(checks)


def test_a_table_saved_before_claims_had_a_kind_is_read_as_claims(tmp_path):
    store = RunStore(tmp_path)
    old = _verdicts("addmul").assign(chapter="addmul", profile="quick")
    path = tmp_path / dashboard.FOLDER / "addmul-quick.csv"
    path.parent.mkdir(parents=True)
    old[["chapter", "claim", "paper", "this run", "profile", "verdict"]].to_csv(path, index=False)
    table = dashboard.collect(["addmul"], "quick", store)
    assert list(table.columns) == dashboard.COLUMNS and (table["kind"] == paper.CLAIM).all()
    with pytest.raises(ValueError, match="unknown kind"):
        dashboard.save("addmul", _verdicts("addmul").assign(kind="finding"), "quick", store)


def test_a_claim_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        paper.Claim("x", "a claim", "1%", "Sec. 1", kind="finding")


def test_the_reference_run_and_the_seeds_reach_the_dashboard(tmp_path):
    store = RunStore(tmp_path)
    ref = _verdicts("doubleadd", "not reproduced")
    dashboard.save("doubleadd", _verdicts(), "quick", store, reference=ref)
    dashboard.save("addmul", _verdicts("addmul"), "quick", store)
    table = dashboard.collect(["addmul", "doubleadd"], "quick", store)
    assert (table[table["chapter"] == "doubleadd"]["reference verdict"] == "not reproduced").all()
    assert (table[table["chapter"] == "addmul"]["reference verdict"] == "").all()
    out = dashboard.to_html(table)
    assert "<th>reference verdict</th>" in out
    assert out.count("verdict not-reproduced") == len(chapters.get("doubleadd").claims)
    assert out.index("<th>verdict</th>") < out.index("<th>claim</th>")  # the verdict comes first
    assert "reference" not in dashboard.to_html(table[table["chapter"] == "addmul"])


def test_counts_name_the_inconclusive_between_reproduced_and_not(tmp_path):
    table = pd.DataFrame({"verdict": ["not reproduced", "inconclusive", "reproduced", "inconclusive"]})
    assert dashboard.counts(table) == "1 reproduced, 2 inconclusive, 1 not reproduced"


def test_glance_draws_one_row_per_claim_coloured_by_verdict(tmp_path):
    from weightmask import evidence
    sure = evidence.Test("x", evidence.over_seeds([0.9, 0.91, 0.92]), at_least=0.8, paper=1.0)
    measured = {c.id: paper.judged("90%", [sure], "r") for c in chapters.get("doubleadd").claims}
    measured["sanity"] = ("", "not comparable", "untrained")
    table = paper.verdict_table("doubleadd", measured).assign(chapter="doubleadd", profile="quick")
    fig = dashboard.glance(table)
    ax = fig.axes[0]
    assert [t.get_text().split(":")[0] for t in ax.get_yticklabels()] == ["doubleadd"] * len(measured)
    colours = {line.get_color() for line in ax.lines if line.get_marker() in ("o", "s")}
    assert colours == {dashboard.COLOURS["reproduced"], dashboard.COLOURS["not comparable"]}


def test_a_seeds_column_without_any_figure_is_left_out(tmp_path):
    plain = _verdicts().assign(chapter="doubleadd", profile="quick")  # verdicts that rest on no figure
    assert "<th>seeds</th>" not in dashboard.to_html(plain)
    assert "seeds" not in paper.styled(_verdicts(), "doubleadd", "quick").to_html()
