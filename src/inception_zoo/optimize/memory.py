"""Freed memory kept for reuse: a process-wide glibc setting that spares large tensors their page faults.

glibc hands out each allocation above 32 MiB as fresh pages from the kernel and returns them when
freed, so every large activation pays a page fault per 4 KiB at first touch: on our 2-core test
machine, filling a fresh 88 MB tensor took 34 ms against 10 ms for an existing one. Told to take
all memory from its heap and keep what is freed, glibc reuses the same pages from one call to the
next; the process holds its peak memory instead of giving it back between calls.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_MMAP_MAX = -1, -3, -4
_KEEP = {_M_MMAP_MAX: 0, _M_TRIM_THRESHOLD: 2**31 - 1}  # no mmap'd blocks; never trim the heap
_GLIBC_DEFAULTS = {_M_MMAP_MAX: 65536, _M_TRIM_THRESHOLD: 128 * 1024, _M_MMAP_THRESHOLD: 128 * 1024}


def keep_freed_memory(enabled: bool = True) -> bool:
    """Keep freed memory for reuse (``enabled``), or set glibc's starting sizes back; returns whether
    the setting could be made (False where the C library is not glibc, e.g. macOS, Windows, musl).

    Once any size is set, glibc stops adapting its mmap threshold (from 128 KiB up to 32 MiB), so
    ``enabled=False`` maps every block over 128 KiB: a process that wants glibc's own behaviour
    never calls this. The command line calls it at start-up unless ``INCEPTION_ZOO_KEEP_FREED_MEMORY=0``.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    settings = _KEEP if enabled else _GLIBC_DEFAULTS
    return all(mallopt(option, value) == 1 for option, value in settings.items())
