"""Time as a dependency: the scheduler and heartbeat read ``now()`` and wait with ``sleep_until`` so tests can move
time forward instead of sleeping."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Protocol

from assistant.messages import utcnow

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime, wake: asyncio.Event | None = None) -> None:
        """Return at ``when`` or as soon as ``wake`` is set, whichever is first."""
        ...


class SystemClock:
    # Long sleeps are cut into slices so a wall-clock jump (sleep, NTP) is noticed within this many seconds.
    MAX_SLICE_S = 30.0

    def now(self) -> datetime:
        return utcnow()

    async def sleep_until(self, when: datetime, wake: asyncio.Event | None = None) -> None:
        while True:
            delay = (when - self.now()).total_seconds()
            if delay <= 0:
                return
            delay = min(delay, self.MAX_SLICE_S)
            if wake is None:
                await asyncio.sleep(delay)
                continue
            try:
                async with asyncio.timeout(delay):
                    await wake.wait()
                return
            except TimeoutError:
                continue
