"""Leases in the database, for several daemon processes on one PostgreSQL: who runs a member's lane, who polls a
bot, and which processes are alive.

A lease is a row (name, holder, expires_at). Taking one is a single statement that succeeds when the row is free,
expired or already ours; the keeper renews every lease of this process in one statement every third of the lease
time, together with this process's row in ``workers``. A process that dies stops renewing: its leases expire after
``ttl_s`` and another process takes them over. Expiry is judged by the database's clock, never a machine's own.

SQLite is single-process: the daemon uses none of this there (no round trip on the message path).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from assistant.storage.db import Database
from assistant.storage.tables import Base

__all__ = ["DEFAULT_TTL_S", "Leader", "LeaseRow", "Leases", "WorkerRow", "describe_processes", "holder_id",
           "read_leases", "read_workers"]

log = logging.getLogger(__name__)

DEFAULT_TTL_S = 6.0
# A worker row whose heartbeat stopped this long ago is removed (status shows dead ones until then).
FORGET_WORKERS_AFTER_S = 600.0
WAIT_FIRST_S = 0.05
WAIT_MAX_S = 1.0


class Lease(Base):
    __tablename__ = "leases"
    __table_args__ = (Index("ix_leases_holder", "holder"),)
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


class Worker(Base):
    """One daemon process: its heartbeat, and what it runs (channels, version) for status and the dashboard."""

    __tablename__ = "workers"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column()
    started_at: Mapped[datetime] = mapped_column()
    heartbeat_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


@dataclass(frozen=True, slots=True)
class LeaseRow:
    name: str
    holder: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class WorkerRow:
    id: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    alive: bool
    info: dict[str, Any]


def holder_id() -> str:
    """This process's name in the lease table: host, pid and a random suffix (a pid is reused after a restart)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


# The database's UTC clock as a naive timestamp, the form UTCDateTime stores.
_NOW = "timezone('utc', statement_timestamp())"
_TTL = "make_interval(secs => :ttl)"
_TAKE = text(f"""
    INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES (:name, :me, {_NOW}, {_NOW} + {_TTL})
    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at,
        acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END
    WHERE leases.holder = excluded.holder OR leases.expires_at < {_NOW}
    RETURNING name""")
_RELEASE = text("DELETE FROM leases WHERE name = :name AND holder = :me")
_RELEASE_ALL = text("DELETE FROM leases WHERE holder = :me")
_RENEW = text(f"UPDATE leases SET expires_at = {_NOW} + {_TTL} WHERE holder = :me RETURNING name")
_BEAT = text(f"""
    INSERT INTO workers (id, host, pid, started_at, heartbeat_at, expires_at, info)
    VALUES (:me, :host, :pid, {_NOW}, {_NOW}, {_NOW} + {_TTL}, CAST(:info AS JSON))
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at,
        info = excluded.info""")
_FORGET = text(f"DELETE FROM workers WHERE expires_at < {_NOW} - make_interval(secs => :after)")
_WORKERS = text(f"SELECT id, host, pid, started_at, heartbeat_at, expires_at >= {_NOW} AS alive, info FROM workers "
                "ORDER BY started_at")
_LEASES = text(f"SELECT name, holder, expires_at FROM leases WHERE expires_at >= {_NOW} ORDER BY name")
_GONE = text(f"UPDATE workers SET expires_at = {_NOW} WHERE id = :me")


class Leases:
    """This process's leases on one PostgreSQL database. ``start()`` registers the worker and starts the keeper;
    ``aclose()`` releases everything at once (the others take over without waiting for expiry)."""

    def __init__(self, db: Database, *, ttl_s: float = DEFAULT_TTL_S, holder: str | None = None,
                 info: Callable[[], dict[str, Any]] | None = None) -> None:
        if db.is_sqlite:
            raise ValueError("database leases need PostgreSQL: SQLite runs one process and needs none")
        self._db = db
        self.ttl_s = ttl_s
        self.holder = holder or holder_id()
        self._info = info or dict
        self._held: dict[str, int] = {}  # name -> which acquisition (a renewal judges only what it saw)
        self._taken = 0
        self._on_lost: dict[str, Callable[[], None]] = {}
        self._keeper: asyncio.Task[None] | None = None
        self.renewals_failed = 0

    async def start(self) -> None:
        await self._beat()
        self._keeper = asyncio.create_task(self._keep(), name="lease-keeper")

    async def aclose(self) -> None:
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
            self._keeper = None
        try:
            async with self._db.transaction() as conn:
                await conn.execute(_RELEASE_ALL, {"me": self.holder})
                await conn.execute(_GONE, {"me": self.holder})
        except Exception:
            log.warning("releasing this process's leases failed; they expire in %.0f s", self.ttl_s, exc_info=True)
        self._held.clear()

    # ---- one lease ---------------------------------------------------------------------------------------
    async def try_acquire(self, name: str) -> bool:
        """Take ``name`` if it is free, expired or ours already (then it is renewed): one statement."""
        async with self._db.transaction() as conn:
            got = (await conn.execute(_TAKE, {"name": name, "me": self.holder, "ttl": self.ttl_s})).first()
        if got is not None and name not in self._held:
            self._taken += 1
            self._held[name] = self._taken
        return got is not None

    async def acquire(self, name: str) -> None:
        """Wait until ``name`` is ours. The holder renews it while it works, so this asks again, with a growing
        pause (up to a second), until the holder releases it or dies and it expires."""
        pause = WAIT_FIRST_S
        while not await self.try_acquire(name):
            await asyncio.sleep(pause)  # another process's lease: nothing here can wake us sooner
            pause = min(WAIT_MAX_S, pause * 2)

    async def release(self, name: str) -> None:
        self._held.pop(name, None)
        self._on_lost.pop(name, None)
        async with self._db.transaction() as conn:
            await conn.execute(_RELEASE, {"name": name, "me": self.holder})

    def on_lost(self, name: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` once if a renewal finds ``name`` taken by another process (this one stalled)."""
        self._on_lost[name] = callback

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    # ---- what every process holds (status, dashboard) ----------------------------------------------------
    async def workers(self) -> list[WorkerRow]:
        return await read_workers(self._db)

    async def leases(self) -> list[LeaseRow]:
        return await read_leases(self._db)

    # ---- the keeper --------------------------------------------------------------------------------------
    async def _keep(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)  # renewal is periodic by nature
            try:
                await self._renew()
                self.renewals_failed = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                self.renewals_failed += 1
                log.warning("renewing leases failed (%d in a row); they expire %.0f s after the last renewal",
                            self.renewals_failed, self.ttl_s, exc_info=True)

    async def _renew(self) -> None:
        # Only what was held before the statement can be missing from its answer: a lease taken meanwhile is new.
        before = dict(self._held)
        async with self._db.transaction() as conn:
            kept = {row[0] for row in await conn.execute(_RENEW, {"me": self.holder, "ttl": self.ttl_s})}
            await self._beat_on(conn)
        for name, taken in before.items():
            if name in kept or self._held.get(name) != taken:
                continue
            del self._held[name]
            callback = self._on_lost.pop(name, None)
            log.warning("lease %s was taken over by another process (this one missed its renewals)", name)
            if callback is not None:
                callback()

    async def _beat(self) -> None:
        async with self._db.transaction() as conn:
            await self._beat_on(conn)

    async def _beat_on(self, conn: Any) -> None:
        import json

        await conn.execute(_BEAT, {"me": self.holder, "host": socket.gethostname()[:200], "pid": os.getpid(),
                                   "ttl": self.ttl_s, "info": json.dumps(self._info())})
        await conn.execute(_FORGET, {"after": FORGET_WORKERS_AFTER_S})


async def read_workers(db: Database) -> list[WorkerRow]:
    async with db.transaction() as conn:
        rows = (await conn.execute(_WORKERS)).all()
    return [WorkerRow(r.id, r.host, r.pid, _utc(r.started_at), _utc(r.heartbeat_at), bool(r.alive),
                      dict(r.info or {})) for r in rows]


async def read_leases(db: Database) -> list[LeaseRow]:
    async with db.transaction() as conn:
        rows = (await conn.execute(_LEASES)).all()
    return [LeaseRow(r.name, r.holder, _utc(r.expires_at)) for r in rows]


async def describe_processes(db: Database) -> list[dict[str, Any]]:
    """Every daemon process on this database and what it holds (``teamclaw status``, the dashboard): receivers by
    name, member lanes counted."""
    leases = await read_leases(db)
    out = []
    for worker in await read_workers(db):
        held = [lease.name for lease in leases if lease.holder == worker.id]
        out.append({"id": worker.id, "host": worker.host, "pid": worker.pid, "alive": worker.alive,
                    "started_at": worker.started_at.isoformat(), "heartbeat_at": worker.heartbeat_at.isoformat(),
                    "channels": worker.info.get("channels", []), "queue_depth": worker.info.get("queue_depth", 0),
                    "receivers": [name.removeprefix("receiver:") for name in held if name.startswith("receiver:")],
                    "singletons": [name.removeprefix("singleton:") for name in held
                                   if name.startswith("singleton:")],
                    "lanes": sum(1 for name in held if name.startswith("lane:"))})
    return out


def _utc(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Leader:
    """A leader lease for one receiver (a bot's long poll, an app's long connection): ``wait()`` returns once
    this process leads; ``lost`` is set when it stops leading (it stalled and another took over)."""

    def __init__(self, leases: Leases, name: str) -> None:
        self._leases = leases
        self.name = name
        self.lost = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self.name in self._leases.held

    async def wait(self) -> None:
        # Asked every second (or third of the lease time): a standby takes over that soon after a clean stop
        # released the lease or a dead holder's lease expired.
        pause = min(1.0, self._leases.ttl_s / 3)
        while True:
            if await self._leases.try_acquire(self.name):
                break
            await asyncio.sleep(pause)  # another process's lease: nothing here can wake us sooner
        self.lost.clear()
        self._leases.on_lost(self.name, self.lost.set)

    async def step_down(self) -> None:
        await self._leases.release(self.name)
