"""A chapter notebook's one call: its parameters checked (unknown names too) before any compute."""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from weightmask import dashboard, notebook
from weightmask.store import RunStore

ROOT = Path(__file__).parents[1]


def test_only_data_names_are_parameters():
    import math
    namespace = {"profile": None, "seeds": 2, "device": "cpu", "math": math, "display": print, "Frame": pd.DataFrame,
                 "In": ["..."], "Out": {}, "_": 3, "__name__": "__main__", "fig": object()}
    assert notebook.parameters(namespace, ["profile", "seeds", "device"], "chapter 'x'") == {
        "profile": None, "seeds": 2, "device": "cpu"}


def test_an_unknown_parameter_is_named_with_the_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown notebook parameter\(s\) \['profil'\] in chapter 'method'; "
                                         r"its parameters are \['profile', 'seeds', 'device'\]"):
        notebook.start("method", {"profil": "quick", "profile": "smoke"})


def test_a_bad_value_fails_before_any_compute(tmp_path):
    with pytest.raises(ValueError, match="'profile' must be one of"):
        notebook.start("method", {"profile": "fast"}, store=RunStore(tmp_path))
    with pytest.raises(ValueError, match="'source' must be one of"):
        notebook.start("cnn", {"profile": "smoke", "source": "imagenet"}, store=RunStore(tmp_path))
    assert not any(tmp_path.iterdir())


def test_start_runs_judges_saves_and_rerun_ignores_the_notebooks_own_names(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIGHTMASK_PROFILE", "smoke")
    store = RunStore(tmp_path)
    namespace = {"profile": None, "seeds": None, "device": "cpu"}
    ch = notebook.start("method", namespace, store=store)
    assert ch.profile == "smoke" and ch.seeds == [0] and ch.config["mask_steps"] == 40
    assert list(ch.verdicts["verdict"]) and set(ch.results) >= {"accuracy", "sampling"}
    saved = dashboard.collect(["method"], "smoke", store)
    assert list(saved["claim"]) == list(ch.verdicts["claim"])
    # the rest of the notebook ran, then the cell runs again in the same kernel
    namespace.update(ch=ch, config=ch.config, ref=None, ref_verdicts=None, acc=[1])
    assert notebook.parameters(namespace, ["profile", "seeds", "device"], "method") == {
        "profile": None, "seeds": None, "device": "cpu"}


def test_on_reference_shows_the_reference_runs_table_or_says_none_is_committed():
    from dataclasses import replace

    from weightmask.reference import Reference
    ran = notebook.ChapterRun(plan=None, results={}, verdicts=pd.DataFrame(), ref=None, ref_verdicts=None,
                              names=frozenset())
    assert "No reference run" in ran.on_reference(len).data
    ref = Reference("x-paper", {"accuracy": pd.DataFrame({"a": [1, 2]})},
                    [{"profile": "paper", "seeds": [0, 1], "device": "cpu", "torch": "2", "commit": "abc",
                      "date": "2026-12-02"}])
    assert replace(ran, ref=ref).on_reference(lambda r: len(r["accuracy"])) == 2
    # a table the reference run cannot fill (e.g. it lacks one of the networks compared) says so
    assert "has none of the networks" in replace(ran, ref=ref).on_reference(lambda r: pd.DataFrame()).data


def test_the_front_page_resolves_its_profile(monkeypatch):
    monkeypatch.setenv("WEIGHTMASK_PROFILE", "paper")
    assert notebook.front({"profile": None, "device": "auto"}) == "paper"
    with pytest.raises(ValueError, match="unknown notebook parameter"):
        notebook.front({"profile": None, "seed": 3})


def test_papermill_refuses_an_unknown_parameter(tmp_path):
    """``papermill book/method.ipynb out.ipynb -p profil quick`` fails naming ``profil`` (before any compute)."""
    papermill = Path(sys.executable).parent / "papermill"
    if not papermill.exists():
        pytest.skip("papermill is not installed")
    env = {**os.environ, "WEIGHTMASK_RESULTS": str(tmp_path / "store"), "WEIGHTMASK_PROFILE": "smoke"}
    done = subprocess.run([str(papermill), "book/method.ipynb", str(tmp_path / "out.ipynb"), "-p", "profil", "quick",
                           "-k", "python3", "--cwd", str(ROOT)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0
    assert ("unknown notebook parameter(s) ['profil'] in chapter 'method'; its parameters are "
            "['profile', 'seeds', 'device']") in done.stdout + done.stderr
    assert not (tmp_path / "store").exists()  # nothing was trained
