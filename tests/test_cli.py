"""The command line: listing, validation before compute, a smoke run into the run store."""
import json

import pytest

from weightmask import chapters, cli, params
from weightmask.experiments import trust
from weightmask.store import RunStore


def test_parse_sets_literals_and_errors():
    assert cli.parse_sets(["beta=1e-4", "sizes=[42, 8, 20]", "n_samples=2", "name=abc"]) == {
        "beta": 1e-4, "sizes": [42, 8, 20], "n_samples": 2, "name": "abc"}
    with pytest.raises(ValueError, match="key=value"):
        cli.parse_sets(["beta"])


def test_parse_seeds():
    assert params.seeds("3") == 3
    assert params.seeds("2:5") == [2, 3, 4] and params.seeds("0,4") == [0, 4]


def test_list_shows_every_chapter_in_order_with_its_parameters_and_profiles(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    listed = [line.split(":")[0] for line in out.splitlines() if not line.startswith(" ")]
    assert listed == chapters.names()
    assert all(f"  {p}" in out for p in ("smoke", "quick", "paper"))
    assert "mask_steps=40" in out  # the smoke setting, read from the profile
    assert "--source (default 'auto')" in out and "--n_train (default None)" in out


def test_run_takes_every_notebook_parameter():
    for chapter in chapters.CHAPTERS:
        for p in chapter.parameters:
            value = p.choices[-1] if p.choices else "x"
            args = cli.build_parser().parse_args(["run", chapter.name, f"--{p.name}", value])
            assert getattr(args, p.name) == value, (chapter.name, p.name)


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_trust_builds_on_the_other_chapters_at_the_same_profile(profile, monkeypatch, tmp_path, cifar_present):
    class Ran(Exception):
        pass

    def fake(config, seeds=None, store=None, device="auto", *, profile):
        raise Ran(profile)
    monkeypatch.setattr(trust, "run", fake)
    with pytest.raises(Ran, match=f"^{profile}$"):
        cli.main(["run", "trust", "--profile", profile, "--device", "cpu", "--results", str(tmp_path)])


def smoke(chapter: str, *args: str) -> list[str]:
    """``weightmask run CHAPTER --profile smoke ARGS``'s arguments."""
    return ["run", chapter, "--profile", "smoke", *args]


@pytest.mark.parametrize("argv,message", [
    (["run", "nope"], "unknown experiment 'nope'"),
    (smoke("method", "--set", "stepz=3"), "no setting 'stepz'"),
    (smoke("method", "--set", "mask_steps=abc"), "must be int"),
    (smoke("method", "--seeds", "0"), "seeds must be a count >= 1"),
    (smoke("method", "--seeds", "1,1"), "distinct seed ids"),
    (smoke("method", "--seeds", "a:b"), "--seeds expects a count"),
    (smoke("method", "--device", "tpu"), "unknown device 'tpu'"),
    # the list: each names the parameter and what it must be
    (smoke("method", "--set", "mask_steps=-5"), "'mask_steps' must be an integer >= 1"),
    (smoke("method", "--set", "n_samples=0"), "'n_samples' must be an integer >= 1"),
    (smoke("method", "--set", "n_samples=3"),
     "'n_samples' must divide 'batch' (each batch is split among the n_samples mask samples): 128 is not"),
    (smoke("method", "--set", "beta=-1.0"), "'beta' must be a number >= 0, got -1.0"),
    (smoke("method", "--set", "mask_lr=-1.0"), "'mask_lr' must be a number > 0"),
    (smoke("method", "--set", "eval_every=0"), "'eval_every' must be an integer >= 1"),
    (smoke("method", "--set", "batch=0"), "'batch' must be an integer >= 1"),
    (smoke("method", "--set", "sizes=[1,2]"),
     "'sizes' for addmul must start with 42 inputs and end with 20 outputs"),
    (smoke("method", "--set", "draws=0"), "'draws' must be an integer >= 1"),
    (smoke("method", "--out", "/proc/nope"), "--out '/proc/nope' is not a folder"),
    # nested settings, names among the allowed ones, the chapters' own parameters
    (smoke("addmul", "--set", "lstm.n_samples=3"), "'lstm.n_samples' must divide 'lstm.batch'"),
    (smoke("scan", "--set", "nets=['GRU']"), "among ['LSTM', 'Transformer']"),
    (smoke("scan", "--set", "n_samples=3"), "'n_samples' must divide 'mask_batch'"),
    (smoke("pmnist", "--set", "variants=['nope']"), "'variants' must be a list of"),
    (smoke("pmnist", "--source", "nope"), "'source' must be one of ['auto', 'idx'"),
    (smoke("method", "--source", "npm"), "unknown parameter(s) ['source']"),
    (smoke("mathematics", "--tasks", "algebra__linear_1d"),
     "'tasks' must be None or a list of some"),
    (smoke("mathematics", "--n-train", "0"), "'n_train' must be an integer >= 1"),
    (smoke("mathematics", "--set", "evaluate=['extreme']"), "among ['easy', 'medium', 'hard']"),
    (smoke("trust", "--set", "sizes=[[42, 8, 21]]"), "end with 20 outputs"),
    (smoke("trust", "--set", "sweep={'n_samples': 3}"), "'n_samples' must divide 'batch'"),
])
def test_bad_arguments_fail_before_compute(argv, message, capsys, tmp_path):
    assert cli.main(argv + ["--results", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing was trained


def test_bad_profile_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", "method", "--profile", "fast"])
    assert "invalid choice: 'fast'" in capsys.readouterr().err


def test_run_writes_store_and_tables(capsys, tmp_path):
    argv = ["run", "method", "--profile", "smoke", "--device", "cpu", "--set", "draws=500", "--seeds", "1:2",
            "--results", str(tmp_path / "store"), "--out", str(tmp_path / "tables")]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "verdict" in out.lower()
    assert {p.name for p in (tmp_path / "tables").iterdir()} >= {"accuracy.csv", "sampling.csv",
                                                                "provenance.json"}
    prov = json.loads((tmp_path / "tables" / "provenance.json").read_text())
    assert prov["profile"] == "smoke" and prov["seeds"] == [1] and prov["device"].startswith("cpu")
    assert prov["config"]["draws"] == 500
    runs = RunStore(tmp_path / "store").runs()
    assert {r.info["experiment"] for r in runs} == {"addmul.weights", "addmul.mask"}
    assert all(r.done for r in runs) and {r.info["seed"] for r in runs} == {1}
