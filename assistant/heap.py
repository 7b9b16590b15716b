"""Hand the C heap's free pages back to the system after work that grew it and is done (glibc's ``malloc_trim``)."""

from __future__ import annotations

import ctypes

__all__ = ["release_free_heap"]


def release_free_heap() -> None:
    """glibc keeps what was freed for later, and raises its own thresholds after a large buffer is freed, so the
    heap a start-up or a large batch grew stays resident (3 MB measured in the daemon after embedding a backlog).
    Elsewhere than glibc this does nothing."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
