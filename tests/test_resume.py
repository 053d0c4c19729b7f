"""A run killed with SIGKILL at any point and rerun ends byte-identical to an uninterrupted one."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

JOB = Path(__file__).with_name("_resume_job.py")
FILES = ("weights.safetensors", "mask.safetensors", "logits.safetensors", "log.csv")


def job(root: Path, stage: str = "none", step: int = -1) -> int:
    """Run the two stages in a fresh process on one thread; its exit status (-9: killed)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WEIGHTMASK_PROGRESS": "0"}
    return subprocess.run([sys.executable, str(JOB), str(root), stage, str(step)], env=env, timeout=600).returncode


def stored(root: Path) -> dict[str, bytes]:
    """Every result file of the run store, by its path inside it."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.glob("*/*/*")) if p.name in FILES}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    root = tmp_path_factory.mktemp("uninterrupted")
    assert job(root) == 0
    files = stored(root)
    assert len(files) == 5, sorted(files)  # weights + log of the weight stage, mask + logits + log of the mask stage
    return files


@pytest.mark.parametrize("stage, step", [("weights", 150), ("weights", 250), ("mask", 120), ("mask", 210)])
def test_killed_run_resumes_to_identical_files(tmp_path, uninterrupted, stage, step):
    assert job(tmp_path, stage, step) == -9  # SIGKILL, mid-stage
    checkpoints = list(tmp_path.glob(f"addmul.{stage}/*/checkpoint.pt"))
    assert len(checkpoints) == 1  # it resumes from a checkpoint, not from the start
    assert job(tmp_path) == 0
    assert stored(tmp_path) == uninterrupted
