"""The receiver's leader lease: with several processes on one database, only one of them polls a Telegram bot or
holds a Feishu app's long connection at a time. Webhook mode needs none (any process may take any request).

The daemon gives a ``Leader`` to each channel that is a ``SingleReceiver``; the channel receives only while it
leads and keeps sending either way. The lease itself lives in ``assistant.leases``.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

__all__ = ["Leader", "SingleReceiver"]


class Leader(Protocol):
    """``wait()`` returns once this process leads; ``lost`` is then set if another process takes over (this one
    stalled past the lease); ``step_down()`` hands the lease on at once (a clean stop)."""

    lost: asyncio.Event

    async def wait(self) -> None: ...

    async def step_down(self) -> None: ...


@runtime_checkable
class SingleReceiver(Protocol):
    """A channel whose receiving mode allows one receiver at a time (long polling, a long connection)."""

    def receive_as_leader(self, leader: Leader) -> bool:
        """Receive only while ``leader`` leads; returns False when the configured mode needs no leader."""
        ...
