"""Reference results: loading, describing and combining run output folders."""
import json

import pandas as pd
import pytest

from weightmask import reference


def _write(folder, seeds, device="cuda: H100"):
    folder.mkdir(parents=True)
    pd.DataFrame({"seed": seeds, "x": [s * 10 for s in seeds]}).to_csv(folder / "acc.csv", index=False)
    pd.DataFrame({"logit": [0.0], "mean": [0.5]}).to_csv(folder / "sampling.csv", index=False)
    prov = {"profile": "paper", "seeds": seeds, "device": device, "torch": "2.11",
            "commit": "0123456789abcdef", "date": "2026-11-24T11:26:05+00:00"}
    (folder / "provenance.json").write_text(json.dumps(prov))


def test_missing_reference_is_none(tmp_path):
    assert reference.load("nothing", tmp_path) is None


def test_combine_concatenates_per_seed_tables(tmp_path):
    _write(tmp_path / "a", [2, 0])
    _write(tmp_path / "b", [1])
    ref = reference.combine([tmp_path / "a", tmp_path / "b"], tmp_path / "both")
    assert ref.seeds == [0, 1, 2]
    assert ref.results["acc"]["seed"].tolist() == [0, 1, 2]
    assert ref.results["acc"]["x"].tolist() == [0, 10, 20]
    assert len(ref.results["sampling"]) == 1  # no seed column: taken once
    assert len(ref.provenance) == 2
    text = ref.describe()
    assert "**paper**" in text and "3 seed(s) [0, 1, 2]" in text and "commit 0123456789" in text


def test_combine_takes_path_strings(tmp_path, monkeypatch):
    """results/reference/README.md's recipe: ``reference.combine(['OUT1', 'OUT2'], 'results/reference/x')``."""
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "OUT1", [0])
    _write(tmp_path / "OUT2", [1])
    ref = reference.combine(["OUT1", "OUT2"], "results/reference/method-paper")
    assert ref.name == "method-paper" and ref.seeds == [0, 1]
    assert (tmp_path / "results" / "reference" / "method-paper" / "provenance.json").is_file()
    with pytest.raises(TypeError, match="list of run output folders"):
        reference.combine("OUT1", "both")


def test_combine_refuses_overlapping_seeds_and_non_run_folders(tmp_path):
    _write(tmp_path / "a", [0, 1])
    _write(tmp_path / "b", [1])
    with pytest.raises(ValueError, match="overlap"):
        reference.combine([tmp_path / "a", tmp_path / "b"], tmp_path / "both")
    (tmp_path / "c").mkdir()
    with pytest.raises(ValueError, match="no provenance.json"):
        reference.combine([tmp_path / "a", tmp_path / "c"], tmp_path / "both")


def test_empty_table_loads_as_empty_frame(tmp_path):
    """A run that leaves a table empty (an FNN-only check in an LSTM-only run) writes it headerless."""
    _write(tmp_path / "a", [0])
    _write(tmp_path / "b", [1])
    for run in ("a", "b"):
        pd.DataFrame().to_csv(tmp_path / run / "sanity.csv", index=False)
    assert reference.load("a", tmp_path).results["sanity"].empty
    assert reference.combine([tmp_path / "a", tmp_path / "b"], tmp_path / "both").results["sanity"].empty


def test_env_var_sets_root(tmp_path, monkeypatch):
    monkeypatch.setenv(reference.ENV_VAR, str(tmp_path))
    _write(tmp_path / "r", [0])
    assert reference.load("r").seeds == [0]


def test_with_reference_adds_columns_by_claim():
    from weightmask import paper
    local = pd.DataFrame({"claim": ["a", "b"], "this run": ["1", "2"], "verdict": ["reproduced", "not reproduced"]})
    ref = pd.DataFrame({"claim": ["b", "a"], "this run": ["20", "10"], "verdict": ["reproduced", "reproduced"]})
    both = paper.with_reference(local, ref)
    assert both["reference run"].tolist() == ["10", "20"]
    assert both["reference verdict"].tolist() == ["reproduced", "reproduced"]
    assert paper.with_reference(local, None) is local
    with pytest.raises(KeyError, match="'b'"):
        paper.with_reference(local, ref.iloc[1:])
