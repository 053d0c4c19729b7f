"""Tests for the run store: keys, round trips, atomic writes and integrity checks."""

import hashlib
import json
import os
import warnings
from contextlib import contextmanager

import pandas as pd
import pytest
import torch

from weightmask import codehash, provenance
from weightmask.store import CorruptRunWarning, MissingResult, RunStore, run_key

CONFIG = {"model": {"width": 32, "layers": (2, 3)}, "lr": 1e-3, "task": "add_mul"}


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "results")


def stage():
    """The code the test runs are keyed by: the same from every test function."""


@pytest.fixture
def run(store):
    return store.run("addmul", CONFIG, seed=0, code=stage)


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def flip_byte(path, at=None):
    data = bytearray(path.read_bytes())
    at = len(data) // 2 if at is None else at
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


@contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# -- keys ---------------------------------------------------------------------------------


def test_key_ignores_dict_order_and_tuple_vs_list():
    reordered = {"task": "add_mul", "lr": 1e-3, "model": {"layers": [2, 3], "width": 32}}
    key = run_key("addmul", CONFIG, 0)
    assert key == "ae4c5c309f426563"  # pinned: a change would orphan every stored run
    assert run_key("addmul", reordered, 0) == key


def test_key_changes_with_value_seed_and_experiment():
    key = run_key("addmul", CONFIG, 0)
    wider = {**CONFIG, "model": {**CONFIG["model"], "width": 64}}
    assert run_key("addmul", wider, 0) != key
    assert run_key("addmul", CONFIG, 1) != key
    assert run_key("other", CONFIG, 0) != key


def test_non_serialisable_config_names_the_key():
    with pytest.raises(TypeError, match=r"model\.act"):
        run_key("addmul", {"model": {"act": torch.nn.ReLU()}}, 0)
    with pytest.raises(TypeError, match=r"sizes\[1\]"):
        RunStore("unused").run("addmul", {"sizes": [1, {2}]}, 0)
    with pytest.raises(TypeError, match="non-string key"):
        run_key("addmul", {"model": {1: "x"}}, 0)


def test_run_directory_and_config_json(store, run):
    code = codehash.code_hash(stage)
    assert run.dir == store.root / "addmul" / run_key("addmul", CONFIG, 0, code)
    on_disk = json.loads((run.dir / "config.json").read_text())
    assert on_disk == {
        "experiment": "addmul",
        "config": {"model": {"width": 32, "layers": [2, 3]}, "lr": 1e-3, "task": "add_mul"},
        "seed": 0,
        "code": code,
        "key": run.key,
        "commit": provenance.commit(),
    }
    assert run.info == on_disk
    assert store.run("addmul", dict(reversed(CONFIG.items())), 0, code=stage) == run


def test_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIGHTMASK_RESULTS", str(tmp_path / "env"))
    assert RunStore().root == tmp_path / "env"
    assert RunStore(tmp_path / "explicit").root == tmp_path / "explicit"
    monkeypatch.delenv("WEIGHTMASK_RESULTS")
    assert str(RunStore().root) == "results"


# -- round trips --------------------------------------------------------------------------


def test_json_round_trip(run):
    obj = {"acc": [0.5, 0.25], "name": "add", "n": 3, "nested": {"ok": True, "none": None}}
    run.save_json("metrics.json", obj)
    assert run.has("metrics.json")
    assert run.load_json("metrics.json") == obj


def test_frame_round_trip_keeps_dtypes(run):
    df = pd.DataFrame(
        {
            "seed": [0, 1, 2],
            "layer": ["fc1", "fc2", "out"],
            "value": [0.1, 1 / 3, -2.5e-12],
            "shared": [True, False, True],
        }
    )
    run.save_frame("table.csv", df)
    back = run.load_frame("table.csv")
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    assert back["seed"].dtype.kind == "i"
    assert back["value"].dtype.kind == "f"
    assert back["shared"].dtype.kind == "b"
    assert (back["value"].to_numpy() == df["value"].to_numpy()).all()  # exact floats


def test_tensors_round_trip_including_bool(run):
    tensors = {
        "fc1.weight": torch.randn(4, 3),
        "fc1.mask": torch.rand(4, 3) > 0.5,
        "counts": torch.arange(5, dtype=torch.int64),
        "view": torch.randn(3, 4).t(),  # non-contiguous
    }
    run.save_tensors("masks.safetensors", tensors)
    back = run.load_tensors("masks.safetensors")
    assert back.keys() == tensors.keys()
    for name, t in tensors.items():
        assert back[name].dtype == t.dtype
        assert torch.equal(back[name], t)


def test_checkpoint_round_trip_and_clear(run):
    assert run.load_checkpoint() is None
    state = {"step": 7, "weights": {"w": torch.randn(2, 2)}, "rng": torch.get_rng_state()}
    run.save_checkpoint(state)
    back = run.load_checkpoint()
    assert back["step"] == 7
    assert torch.equal(back["weights"]["w"], state["weights"]["w"])
    assert torch.equal(back["rng"], state["rng"])
    run.save_checkpoint({"step": 8})
    assert run.load_checkpoint() == {"step": 8}
    run.clear_checkpoint()
    assert run.load_checkpoint() is None
    assert not (run.dir / "checkpoint.pt").exists()
    assert "checkpoint.pt" not in json.loads((run.dir / "manifest.json").read_text())


def test_missing_result_is_a_key_error_with_clear_message(run):
    with pytest.raises(KeyError):
        run.load_json("absent.json")
    with pytest.raises(MissingResult, match="absent.csv"):
        run.load_frame("absent.csv")
    assert not run.has("absent.json")


def test_reserved_and_invalid_names_are_rejected(run):
    for name in ["config.json", "DONE", "checkpoint.pt", "manifest.json"]:
        with pytest.raises(ValueError):
            run.save_json(name, {})
    for name in ["../escape.json", "a/b.json", ".hidden", ""]:
        with pytest.raises(ValueError):
            run.path(name)


# -- atomic writes ------------------------------------------------------------------------


def test_crash_during_write_leaves_old_content_and_no_partial_file(run, monkeypatch):
    run.save_json("metrics.json", {"v": 1})

    def crash(src, dst):
        raise OSError("killed")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="killed"):
        run.save_json("metrics.json", {"v": 2})
    with pytest.raises(OSError, match="killed"):
        run.save_json("new.json", {"v": 3})
    monkeypatch.undo()

    assert not (run.dir / "new.json").exists()
    assert [p.name for p in run.dir.iterdir() if p.name.startswith(".")] == []  # no temp files
    with no_warnings():
        assert run.load_json("metrics.json") == {"v": 1}
        assert not run.has("new.json")


def test_file_written_but_not_recorded_is_rejected(run):
    (run.dir / "orphan.json").write_text('{"v": 1}')  # as if killed before the manifest update
    with pytest.warns(CorruptRunWarning, match="orphan.json.*not recorded"):
        assert not run.has("orphan.json")
    assert not (run.dir / "orphan.json").exists()


# -- integrity ----------------------------------------------------------------------------


def test_truncated_json_is_detected_and_recomputed_by_cached(run):
    calls = []

    def compute():
        calls.append(1)
        return {"acc": 0.75, "pairs": (1, 2)}

    assert run.cached("summary.json", compute) == {"acc": 0.75, "pairs": [1, 2]}
    assert run.cached("summary.json", compute) == {"acc": 0.75, "pairs": [1, 2]}
    assert len(calls) == 1

    truncate(run.dir / "summary.json")
    with pytest.warns(CorruptRunWarning, match=r"summary\.json.*bytes"):
        assert run.cached("summary.json", compute) == {"acc": 0.75, "pairs": [1, 2]}
    assert len(calls) == 2
    with no_warnings():  # the recomputed file is recorded and trusted again
        assert run.load_json("summary.json") == {"acc": 0.75, "pairs": [1, 2]}


def test_flipped_bytes_of_same_size_are_detected(run):
    masks = {"m": torch.ones(64, dtype=torch.bool)}
    run.save_tensors("masks.safetensors", masks)
    path = run.dir / "masks.safetensors"
    size = path.stat().st_size
    flip_byte(path, at=size - 3)  # inside the tensor data: still parses, wrong values
    assert path.stat().st_size == size
    with pytest.warns(CorruptRunWarning, match=r"masks\.safetensors.*sha256"):
        with pytest.raises(MissingResult):
            run.load_tensors("masks.safetensors")
    assert not path.exists()
    assert "masks.safetensors" not in json.loads((run.dir / "manifest.json").read_text())


def test_file_that_verifies_but_does_not_parse_is_rejected(run):
    data = b"{truncated json"
    (run.dir / "bad.json").write_bytes(data)
    manifest = json.loads((run.dir / "manifest.json").read_text())
    manifest["bad.json"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (run.dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.warns(CorruptRunWarning, match=r"bad\.json does not parse"):
        with pytest.raises(MissingResult):
            run.load_json("bad.json")
    assert not (run.dir / "bad.json").exists()


def test_truncated_checkpoint_returns_none_with_warning(run):
    run.save_checkpoint({"step": 3, "w": torch.randn(100)})
    truncate(run.dir / "checkpoint.pt")
    with pytest.warns(CorruptRunWarning, match=r"checkpoint\.pt"):
        assert run.load_checkpoint() is None
    assert not (run.dir / "checkpoint.pt").exists()
    assert run.load_checkpoint() is None  # now simply absent


# -- done marker, manifest, listing -------------------------------------------------------


def test_done_marker(store, run):
    assert not run.done
    run.mark_done()
    assert run.done
    assert store.run("addmul", CONFIG, 0, code=stage).done  # a fresh handle sees it too


def test_corrupt_done_marker_or_manifest_means_not_done(store):
    a = store.run("addmul", CONFIG, 1)
    a.mark_done()
    flip_byte(a.dir / "DONE", at=0)
    with pytest.warns(CorruptRunWarning, match="DONE"):
        assert not a.done

    b = store.run("addmul", CONFIG, 2)
    b.mark_done()
    (b.dir / "manifest.json").write_text("{not json")
    with pytest.warns(CorruptRunWarning) as caught:
        assert not b.done
    messages = [str(w.message) for w in caught]
    assert any("manifest.json does not parse" in m for m in messages)
    assert any("DONE is not recorded" in m for m in messages)
    assert not (b.dir / "DONE").exists()

    c = store.run("addmul", CONFIG, 3)
    c.mark_done()
    (c.dir / "manifest.json").unlink()
    with pytest.warns(CorruptRunWarning, match="DONE"):
        assert not c.done


def test_runs_listing_and_remove(store):
    r0 = store.run("addmul", CONFIG, 0)
    r1 = store.run("addmul", CONFIG, 1)
    other = store.run("perm", {"n": 5}, 0)
    assert set(store.runs()) == {r0, r1, other}
    assert set(store.runs("addmul")) == {r0, r1}
    assert sorted(r.info["seed"] for r in store.runs("addmul")) == [0, 1]
    assert store.runs("perm")[0].info["config"] == {"n": 5}
    assert store.runs("missing") == []

    r1.remove()
    assert not r1.dir.exists()
    assert set(store.runs()) == {r0, other}
