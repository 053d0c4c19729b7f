"""Keep large freed blocks in the process (glibc), so per-step tensors are reused, not page-faulted in anew.

A mask-training step allocates and frees K copies of every weight and K weight gradients.
glibc returns such blocks to the kernel (mmap, heap trimming), and touching them again
the next step costs one page fault per 4 KiB: 40 ms of a 200 ms step for the paper's FNN.
Raising the two thresholds keeps them. Explicit ``MALLOC_MMAP_THRESHOLD_`` /
``MALLOC_TRIM_THRESHOLD_`` settings in the environment are left as the user set them.
"""
from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from glibc's malloc.h
_MMAP_THRESHOLD = 32 * 2**20  # glibc's maximum: blocks up to 32 MiB come from the heap
_TRIM_THRESHOLD = 2**30  # keep up to 1 GiB of free heap top instead of returning it
_applied = False


def keep_freed_memory() -> bool:
    """Apply the thresholds once per process; True where glibc accepted them."""
    global _applied
    if _applied:
        return True
    _applied = True  # tried once, whatever the outcome
    if not sys.platform.startswith("linux") or any(
            v in os.environ for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
