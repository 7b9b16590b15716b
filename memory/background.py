"""The thread that embeds passages for the vector index off a turn's path, at a lower CPU priority than turns.

Each turn writes its journal at once and leaves the vectors to a batch (``MemoryStore.flush_vectors``). That batch
holds a core for a tenth of a second; at the same priority it slows the next turn's question embedding on the
same core (memory-on p99 at 10 msg/s 56-57 ms, 40-44 ms with the batch niced, one run each). A lower priority
only matters while something else wants the core, so an idle machine embeds as fast as before.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["BACKGROUND_NICE", "background_executor", "lower_priority"]

log = logging.getLogger(__name__)

BACKGROUND_NICE = 15


def lower_priority(nice: int = BACKGROUND_NICE) -> None:
    """Give the calling thread at least ``nice``. Linux keeps the nice value per thread (and a thread the caller
    starts inherits it); elsewhere the call would reach the whole process, so it does nothing there."""
    if sys.platform != "linux":
        return
    tid = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:  # a sandbox without setpriority: the work still runs, at the usual priority
        log.debug("background thread keeps its priority (%s)", exc)


def background_executor(name: str) -> ThreadPoolExecutor:
    """One worker thread at ``BACKGROUND_NICE``; its owner shuts it down. One thread: the priority cannot be
    raised again without privileges, so that thread never runs anything a turn waits for."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=lower_priority)
