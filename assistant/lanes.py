"""Member lanes across processes (PostgreSQL): a lane runs only in the process that holds its lease, and messages
that a dead process accepted but never answered are adopted by the others.

Dispatch asks ``DatabaseLanes`` for the lane's lease before the lane's first turn, keeps it while the lane has
work and releases it when the lane is empty: one turn per member at a time across all processes. Under the lease
it re-reads which of the lane's messages are still unanswered, since another process may have answered them while
this one waited. The ``Adopter`` looks at the unanswered messages every quarter lease time; one that stayed
unanswered for a whole lease time and is not in this process's hands is submitted here. Its lane then waits for
the lease, which is free once the process that had it died (or finished), and the re-read drops what was
answered meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from assistant.errors import StorageError
from assistant.inbox import PENDING_STATES
from assistant.leases import Leases
from assistant.storage.db import Database
from assistant.storage.tables import Message, table_of

__all__ = ["Adopter", "DatabaseLanes"]

log = logging.getLogger(__name__)

ADOPT_BATCH = 1000
ACQUIRE_RETRY_S = 0.5
ACQUIRE_RETRY_MAX_S = 10.0
_MESSAGES = table_of(Message)
_UNANSWERED = select(_MESSAGES.c.id).where(
    _MESSAGES.c.id.in_(bindparam("ids", expanding=True)), _MESSAGES.c.status.in_(PENDING_STATES))
_PENDING = (select(_MESSAGES.c.id).where(_MESSAGES.c.direction == "in", _MESSAGES.c.status.in_(PENDING_STATES))
            .order_by(_MESSAGES.c.id).limit(ADOPT_BATCH))


def _lane_lease(key: str) -> str:
    return f"lane:{key}"


class DatabaseLanes:
    """What dispatch needs of the database to run a lane in one process at a time (see ``LaneLeases``)."""

    def __init__(self, db: Database, leases: Leases) -> None:
        self._db = db
        self._leases = leases

    async def acquire(self, key: str) -> None:
        pause = ACQUIRE_RETRY_S
        while True:
            try:
                await self._leases.acquire(_lane_lease(key))
                return
            except (StorageError, SQLAlchemyError, OSError) as exc:
                # The lane's messages stay in this process's hands: wait for the database rather than drop them.
                log.warning("taking lane %s failed (%s); retrying in %.0f s", key, exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, ACQUIRE_RETRY_MAX_S)

    async def release(self, key: str) -> None:
        await self._leases.release(_lane_lease(key))

    async def unanswered(self, message_ids: list[int]) -> set[int]:
        async with self._db.transaction() as conn:
            return set((await conn.execute(_UNANSWERED, {"ids": message_ids})).scalars())


class Adopter:
    """Finds messages left unanswered by a process that died and hands them to this process's dispatch."""

    def __init__(self, db: Database, *, every_s: float, after_s: float, holds: Callable[[int], bool],
                 submit: Callable[[int], None]) -> None:
        self._db = db
        self._every_s = every_s
        self._after_s = after_s
        self._holds = holds
        self._submit = submit
        self._first_seen: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None
        self.adopted = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lane-adopter")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            # Periodic by nature: another process's death sends no event.
            await asyncio.sleep(self._every_s)
            try:
                await self.scan()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("looking for unanswered messages failed; trying again in %.0f s", self._every_s)

    async def scan(self) -> int:
        """Submit the messages unanswered for ``after_s`` that this process does not hold; returns how many."""
        async with self._db.transaction() as conn:
            pending = list((await conn.execute(_PENDING)).scalars())
        now = time.monotonic()
        seen: dict[int, float] = {}
        taken = 0
        for message_id in pending:
            if self._holds(message_id):
                continue
            first = seen[message_id] = self._first_seen.get(message_id, now)
            if now - first >= self._after_s:
                log.info("taking over message %s, unanswered for %.0f s", message_id, now - first)
                self._submit(message_id)
                seen.pop(message_id)
                taken += 1
        self._first_seen = seen
        self.adopted += taken
        return taken
