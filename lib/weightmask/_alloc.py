"""Keep large freed blocks in the process (glibc), so per-step tensors are reused, not page-faulted in anew.

A mask-training step allocates and frees K copies of every weight and K weight gradients.
glibc returns such blocks to the kernel (mmap, heap trimming), and touching them again
the next step costs one page fault per 4 KiB: 40 ms of a 200 ms step for the paper's FNN.
Raising the two thresholds keeps them. Explicit ``MALLOC_MMAP_THRESHOLD_`` /
``MALLOC_TRIM_THRESHOLD_`` settings in the environment are left as the user set them.

This changes the whole process, so the library never does it by itself: it is one of the
settings :func:`weightmask.settings.tune_process` applies when an entry point asks for it.
"""
from __future__ import annotations

import ctypes
import sys

from . import settings

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h
_MMAP_THRESHOLD = 32 * 2**20  # glibc's maximum: blocks up to 32 MiB come from the heap
_TRIM_THRESHOLD = 2**30  # keep up to 1 GiB of free heap top instead of returning it
_result: bool | None = None  # None: not tried yet in this process


def _mallopt(param: int, value: int) -> bool:
    """glibc's ``mallopt``; False where there is none (musl, macOS, Windows)."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(param, value))
    except (OSError, AttributeError):
        return False


def keep_freed_memory() -> bool:
    """Apply the thresholds once per process; True where glibc accepted them (the same answer
    on every call)."""
    global _result
    if _result is None:
        _result = (sys.platform.startswith("linux") and not settings.user_malloc()
                   and _mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
                   and _mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    return _result


def applied() -> bool:
    """Whether this process's allocator thresholds were changed (by :func:`keep_freed_memory`)."""
    return bool(_result)
