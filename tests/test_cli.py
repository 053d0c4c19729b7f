"""The command line: listing, validation before compute, a smoke run into the run store."""
import json

import pytest

from weightmask import cli
from weightmask.store import RunStore


def test_parse_sets_literals_and_errors():
    assert cli.parse_sets(["beta=1e-4", "sizes=[42, 8, 20]", "n_samples=2", "name=abc"]) == {
        "beta": 1e-4, "sizes": [42, 8, 20], "n_samples": 2, "name": "abc"}
    with pytest.raises(ValueError, match="key=value"):
        cli.parse_sets(["beta"])


def test_parse_seeds():
    assert cli.parse_seeds(None) is None and cli.parse_seeds("3") == 3
    assert cli.parse_seeds("2:5") == [2, 3, 4] and cli.parse_seeds("0,4") == [0, 4]


def test_list_shows_every_profile(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "method:" in out and all(f"  {p}" in out for p in ("smoke", "quick", "paper"))
    assert "mask_steps=40" in out  # the smoke setting, read from the profile


@pytest.mark.parametrize("argv,message", [
    (["run", "nope"], "unknown experiment 'nope'"),
    (["run", "method", "--profile", "smoke", "--set", "stepz=3"], "no setting 'stepz'"),
    (["run", "method", "--profile", "smoke", "--set", "mask_steps=abc"], "must be int"),
    (["run", "method", "--profile", "smoke", "--seeds", "0"], "seeds must be a count >= 1"),
    (["run", "method", "--profile", "smoke", "--seeds", "1,1"], "distinct seed ids"),
    (["run", "method", "--profile", "smoke", "--seeds", "a:b"], "--seeds expects a count"),
    (["run", "method", "--profile", "smoke", "--device", "tpu"], "unknown device 'tpu'"),
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
