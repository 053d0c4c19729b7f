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
    first, _ = _run({"MALLOC_TRIM_THRESHOLD_": "131072"})
    assert first == "False"


def test_sampling_applies_it(monkeypatch):
    import torch

    from weightmask import gumbel
    calls = []
    monkeypatch.setattr(gumbel, "keep_freed_memory", lambda: calls.append(1))
    gumbel.masked_weight_samples(torch.ones(5), torch.zeros(5), n=2, seed=1)
    assert calls == [1]
