"""Whether a process id still names a running process (the daemon's status file, the background model build)."""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs, also when it belongs to another user (signal 0 then fails with a permission error)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
