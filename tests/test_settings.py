"""One settings module: every environment variable read in one place, at call time; importing and
using the library leaves its host process alone, and ``tune_process`` is the explicit exception."""
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

import weightmask as wm
from weightmask import _alloc, cli, profiles, reference, settings

LIB = Path(wm.__file__).resolve().parent


def test_variables_are_read_when_called(monkeypatch, tmp_path):
    for name in settings.VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert settings.results_root() == Path("results")
    assert settings.profile() == "quick" == profiles.default_profile()
    assert settings.progress() is True and settings.tune() is True
    assert settings.data_dir() == settings.CHECKOUT / "data"
    assert settings.reference_dir() == settings.CHECKOUT / "results" / "reference" == reference.root()
    assert settings.commit() is None and settings.user_malloc() == []

    monkeypatch.setenv("WEIGHTMASK_RESULTS", str(tmp_path / "store"))
    monkeypatch.setenv("WEIGHTMASK_PROFILE", "smoke")
    monkeypatch.setenv("WEIGHTMASK_PROGRESS", "0")
    monkeypatch.setenv("WEIGHTMASK_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("WEIGHTMASK_REFERENCE", str(tmp_path / "ref"))
    monkeypatch.setenv("WEIGHTMASK_COMMIT", "abc123")
    monkeypatch.setenv("WEIGHTMASK_TUNE", "off")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert settings.results_root() == tmp_path / "store"
    assert settings.profile() == "smoke" == profiles.default_profile()
    assert settings.progress() is False and settings.tune() is False
    assert settings.data_dir() == tmp_path / "data"
    assert settings.reference_dir() == tmp_path / "ref" == reference.root()
    assert settings.commit() == "abc123"
    assert settings.user_malloc() == ["MALLOC_TRIM_THRESHOLD_"]


@pytest.mark.parametrize("value, on", [("0", False), ("false", False), ("No", False), ("OFF", False),
                                       ("1", True), ("yes", True), ("", True)])
def test_switches(monkeypatch, value, on):
    monkeypatch.setenv("WEIGHTMASK_PROGRESS", value)
    monkeypatch.setenv("WEIGHTMASK_TUNE", value)
    assert settings.progress() is on and settings.tune() is on


def test_unknown_profile_from_the_environment_is_an_error(monkeypatch):
    monkeypatch.setenv("WEIGHTMASK_PROFILE", "fast")
    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        profiles.default_profile()


def test_child_environment_is_this_one_plus_extra(monkeypatch):
    monkeypatch.setenv("WEIGHTMASK_DATA", "/somewhere")
    env = settings.child_environment(PYTHONHASHSEED="0")
    assert env["PYTHONHASHSEED"] == "0" and env["WEIGHTMASK_DATA"] == "/somewhere"
    assert {k: v for k, v in env.items() if k != "PYTHONHASHSEED"} == {
        k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}


def _sources():
    return sorted(p for p in LIB.rglob("*.py") if "__pycache__" not in p.parts)


def test_only_the_settings_module_reads_the_environment():
    """``os.environ`` / ``getenv`` appear in lib/weightmask/settings.py alone."""
    pattern = re.compile(r"\benviron\b|\bgetenv\b|\bputenv\b|\bunsetenv\b")
    offenders = [f"{p.relative_to(LIB)}:{n}: {line.strip()}"
                 for p in _sources() if p.name != "settings.py"
                 for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, "read environment variables through weightmask.settings:\n" + "\n".join(offenders)


def test_every_variable_named_in_the_library_is_documented():
    names = {m for p in _sources() for m in re.findall(r"\bWEIGHTMASK_[A-Z_]+\b", p.read_text())}
    assert names <= set(settings.VARIABLES), sorted(names - set(settings.VARIABLES))
    for name in settings.VARIABLES:
        assert f"``{name}``" in settings.__doc__, name
    for fn in ("results_root", "profile", "progress", "data_dir", "reference_dir", "commit", "tune",
               "user_malloc"):
        assert f"``{fn}``" in settings.__doc__, fn


# A CPU mask step with the library's train_mask in a fresh process; prints what changed in the process.
HOST = r"""
import ctypes, json, os, sys
mallopt = []
_getitem = ctypes.CDLL.__getitem__
def _spy(self, name):  # any mallopt looked up through ctypes, from the very first import on
    if name == "mallopt":
        mallopt.append(name)
    return _getitem(self, name)
ctypes.CDLL.__getitem__ = _spy

import torch
import torch._dynamo  # what PyTorch does to the environment itself (TORCHINDUCTOR_CACHE_DIR, on the
                      # first optimizer) happens here, before the snapshot: only weightmask is tested
before = dict(os.environ)
threads = torch.get_num_threads()
import numba
import torch.nn.functional as F
import weightmask as wm
from weightmask import _alloc
from weightmask.models import FNN
after_import = dict(os.environ)
tuned = wm.tune_process() if sys.argv[1] == "tune" else None
torch.manual_seed(0)
x = torch.randn(64, 10)
y = (x[:, 0] > 0).long()
net = FNN([10, 16, 2])
wm.train_mask(net, lambda step: (x, y), lambda m, b: F.cross_entropy(m(b[0]), b[1]), steps=3,
              alpha=1e-4, progress=False)
print(json.dumps({
    "import_changed_env": sorted(k for k in set(before) | set(after_import) if before.get(k) != after_import.get(k)),
    "step_changed_env": sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)),
    "numba_env": "NUMBA_NUM_THREADS" in os.environ,
    "mallopt": len(mallopt), "applied": _alloc.applied(), "tuned": tuned,
    "threads": [threads, torch.get_num_threads(), numba.get_num_threads()],
}))
"""


def _host(mode, **env_extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MALLOC_", "NUMBA_")) and k != "WEIGHTMASK_TUNE"}
    env.update(OMP_NUM_THREADS="1", **env_extra)
    out = subprocess.run([sys.executable, "-c", HOST, mode], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_and_a_cpu_mask_step_leave_the_process_alone():
    r = _host("plain")
    assert r["import_changed_env"] == [] and r["step_changed_env"] == []
    assert r["numba_env"] is False
    assert r["mallopt"] == 0 and r["applied"] is False
    assert r["threads"] == [1, 1, 1]  # numba follows PyTorch's count, which stays as it was


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt thresholds exist only in glibc")
def test_tune_process_applies_the_allocator_settings():
    r = _host("tune")
    assert r["tuned"] == {"malloc": True} and r["applied"] is True and r["mallopt"] == 2
    assert r["step_changed_env"] == [] and r["numba_env"] is False  # still no environment variable


def test_tune_opt_out():
    r = _host("tune", WEIGHTMASK_TUNE="0")
    assert r["tuned"] == {"malloc": False} and r["applied"] is False and r["mallopt"] == 0


def test_tune_process_in_process(monkeypatch):
    calls = []
    monkeypatch.setattr(_alloc, "keep_freed_memory", lambda: calls.append(1) or True)
    monkeypatch.setenv("WEIGHTMASK_TUNE", "0")
    assert wm.tune_process() == {"malloc": False} and calls == []
    monkeypatch.delenv("WEIGHTMASK_TUNE")
    assert wm.tune_process(malloc=False) == {"malloc": False} and calls == []
    assert wm.tune_process() == {"malloc": True} and calls == [1]


class Tuned(Exception):
    pass


def test_the_cli_run_tunes_the_process_before_it_runs_and_list_does_not(monkeypatch, capsys):
    def tune_process(**kw):
        raise Tuned  # stops `weightmask run` where it tunes, before any compute

    monkeypatch.setattr(settings, "tune_process", tune_process)
    assert cli.main(["list"]) == 0
    with pytest.raises(Tuned):
        cli.main(["run", "method", "--profile", "smoke", "--device", "cpu"])
