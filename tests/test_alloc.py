"""The allocator thresholds that keep per-step tensors in the process."""
import os
import platform
import subprocess
import sys

import pytest

CHECK = "from weightmask._alloc import keep_freed_memory as k; print(k(), k())"


def _run(env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                    reason="mallopt thresholds exist only in glibc")
def test_applied_once_on_glibc():
    assert _run({}) == ["True", "True"]


def test_user_malloc_settings_are_left_alone():
    assert _run({"MALLOC_TRIM_THRESHOLD_": "131072"}) == ["False", "False"]


def test_sampling_leaves_the_allocator_alone(monkeypatch):
    """Changing the allocator is for entry points (``weightmask.tune_process``), not for a mask step."""
    import torch

    from weightmask import _alloc, gumbel
    calls = []
    monkeypatch.setattr(_alloc, "_mallopt", lambda *a: calls.append(a) or True)
    monkeypatch.setattr(_alloc, "_result", None)
    gumbel.masked_weight_samples(torch.ones(5), torch.zeros(5), n=2, seed=1)
    assert calls == [] and not _alloc.applied()
