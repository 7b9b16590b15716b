"""A clock that tests move by hand: ``advance`` wakes the sleepers that are due; ``settled`` waits until every
loop under test is asleep again (nothing left to do at the current time)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(eq=False)
class _Sleeper:
    when: datetime
    done: asyncio.Future[None]
    wake: asyncio.Event | None

    def idle_at(self, now: datetime) -> bool:
        return self.when > now and not self.done.done() and not (self.wake is not None and self.wake.is_set())


class ManualClock:
    """Implements ``assistant.clock.Clock``."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._sleepers: list[_Sleeper] = []
        self._changed: asyncio.Event | None = None

    def now(self) -> datetime:
        return self._now

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def sleep_until(self, when: datetime, wake: asyncio.Event | None = None) -> None:
        if when <= self._now or (wake is not None and wake.is_set()):
            await asyncio.sleep(0)
            return
        sleeper = _Sleeper(when, asyncio.get_running_loop().create_future(), wake)
        self._sleepers.append(sleeper)
        self._notify()
        waits: list[asyncio.Future[object]] = [sleeper.done]  # type: ignore[list-item]
        waker = asyncio.ensure_future(wake.wait()) if wake is not None else None
        if waker is not None:
            waker.add_done_callback(lambda _: self._notify())
            waits.append(waker)  # type: ignore[arg-type]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._sleepers.remove(sleeper)
            if waker is not None:
                waker.cancel()
            self._notify()

    def set(self, when: datetime) -> None:
        """Jump (forwards or backwards) without settling: a wall-clock jump."""
        self._now = when
        for sleeper in list(self._sleepers):
            if sleeper.when <= self._now and not sleeper.done.done():
                sleeper.done.set_result(None)

    async def advance(self, delta: timedelta, *, sleepers: int = 1) -> None:
        await self.advance_to(self._now + delta, sleepers=sleepers)

    async def advance_to(self, when: datetime, *, sleepers: int = 1) -> None:
        """Let time pass up to ``when``: each sleeper wakes at its own deadline, in order, as in real time."""
        await self.settled(sleepers)
        while True:
            due = [s.when for s in self._sleepers if s.idle_at(self._now) and s.when <= when]
            if not due:
                break
            self.set(min(due))
            await self.settled(sleepers)
        self.set(when)
        await self.settled(sleepers)

    async def run_in_steps(self, until: datetime, step: timedelta, *, sleepers: int = 1) -> None:
        """Move forward step by step, settling after each (plenty of chances for a double run to show)."""
        while self._now < until:
            await self.advance(min(step, until - self._now), sleepers=sleepers)

    async def settled(self, sleepers: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``sleepers`` loops are asleep with a deadline after now."""
        if self._changed is None:
            self._changed = asyncio.Event()
        async with asyncio.timeout(timeout):
            while True:
                self._changed.clear()
                if sum(1 for s in self._sleepers if s.idle_at(self._now)) >= sleepers:
                    return
                await self._changed.wait()

    @property
    def next_wake(self) -> datetime | None:
        pending = [s.when for s in self._sleepers if not s.done.done()]
        return min(pending) if pending else None
