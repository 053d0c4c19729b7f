"""Where a result came from: the commit of the code that made it."""
from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from . import settings


@functools.lru_cache(maxsize=1)
def commit() -> str:
    """``$WEIGHTMASK_COMMIT``, else the git commit of this checkout (``-dirty`` with uncommitted
    changes), else ``"unknown"`` (an installed copy without its repository)."""
    pinned = settings.commit()
    if pinned:
        return pinned
    here = Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=here, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], capture_output=True, text=True,
                               check=True, cwd=here, timeout=10).stdout.strip()
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return "unknown"
    return head + ("-dirty" if dirty else "")
