"""The database handle: one async engine, WAL on SQLite, migrations applied at start."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from assistant.errors import StorageError
from assistant.storage.revisions import is_current
from assistant.storage.sqlite_loop import DRIVER

__all__ = ["Database", "engine_url"]

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x7465616D636C6177  # "teamclaw": the advisory lock that serialises migrations on PostgreSQL
CHECKPOINT_EVERY_S = 2.0
# Query-planner statistics are refreshed this often (and once soon after start); pooled connections are reopened
# as often, since a connection keeps the statistics it loaded when it opened.
ANALYZE_EVERY_S = 3600.0
# Rows ANALYZE samples per index: approximate statistics in about a millisecond per 100,000 rows.
_ANALYSIS_LIMIT = 400


# A connection on the loop's thread may block the loop only briefly in SQLite's busy handler (a rare reader
# collision with a checkpoint); waiting for another process's write lock is done on the loop (see sqlite_loop).
_LOOP_BUSY_TIMEOUT_MS = 20
_THREAD_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def apply(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        # WAL: readers never block the writer; synchronous=NORMAL is durable across process crashes in WAL mode.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cur.close()

    return apply


def engine_url(url: str) -> str:
    """The URL the engine is made from: a SQLite file runs on the loop's thread (``sqlite_loop``); an in-memory
    database keeps aiosqlite, whose single shared connection it needs; other databases are used as given."""
    scheme, sep, rest = url.partition(":///")
    if sep and scheme in ("sqlite", "sqlite+aiosqlite") and rest and not rest.startswith(":memory:") \
            and "mode=memory" not in rest:
        return f"sqlite+{DRIVER}:///{rest}"
    return url


class Database:
    """Owns the engine. ``session()`` (ORM) and ``transaction()`` (Core only) yield a unit of work that commits on
    success and rolls back on error."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite and ":///" in url:
            path = url.split(":///", 1)[1]
            if path and path != ":memory:":
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {}
        target = engine_url(url)
        on_loop = target.startswith(f"sqlite+{DRIVER}:")
        if on_loop:
            # Connections are cheap to keep and costly to reopen under a burst; writers queue on the lock anyway.
            kwargs.update(pool_size=8, max_overflow=24, pool_recycle=ANALYZE_EVERY_S)
        self.engine: AsyncEngine = create_async_engine(target, **kwargs)
        if self.is_sqlite:
            busy = _LOOP_BUSY_TIMEOUT_MS if on_loop else _THREAD_BUSY_TIMEOUT_MS
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas(busy))
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._file = target.partition(":///")[2].split("?", 1)[0] if on_loop else None
        self._maintenance: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with _committed(self._sessions()) as session:
            yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A unit of work of Core statements only, without the ORM session around them: what the path of every
        message uses (10-20 % less CPU a statement). Commits and fails like ``session()``."""
        async with _committed(await self.engine.connect()) as conn:
            yield conn

    def start_maintenance(self, checkpoint_every_s: float = CHECKPOINT_EVERY_S,
                          analyze_every_s: float = ANALYZE_EVERY_S) -> None:
        """For a long-running process on a SQLite file, from a worker thread:

        - copy the write-ahead log into the database every ``checkpoint_every_s``. Left to SQLite, that copy (and
          its fsync) runs inside whichever commit crosses 1,000 log pages, which here is on the event loop; passive
          checkpoints on another connection never wait for readers or writers, and SQLite's own stays the fallback;
        - refresh the query planner's statistics (``ANALYZE``, sampled) soon after start and every
          ``analyze_every_s``. Without them SQLite guesses that any index narrows a search to a few rows: with
          100,000 memory records of one member it read all of them through the scope index to fetch 100 by id
          (16 ms, against 0.4 ms by primary key once it knew)."""
        if self._file is None or self._maintenance is not None:
            return
        self._maintenance = asyncio.create_task(self._maintain_forever(checkpoint_every_s, analyze_every_s),
                                                name="sqlite-maintenance")

    async def analyze(self) -> None:
        """Refresh the query planner's statistics now (SQLite files; the maintenance task does it hourly). Pooled
        connections load them when they are next opened; the first statistics of a file reach them at once."""
        if self._file is None:
            return
        maintenance = _Maintenance(self._file)
        try:
            await asyncio.to_thread(maintenance.analyze)
        finally:
            await asyncio.to_thread(maintenance.close)

    async def _maintain_forever(self, checkpoint_every_s: float, analyze_every_s: float) -> None:
        assert self._file is not None
        maintenance = _Maintenance(self._file)
        loop = asyncio.get_running_loop()
        analyze_at = loop.time()
        try:
            while True:
                await asyncio.sleep(checkpoint_every_s)  # a periodic chore by nature
                try:
                    await asyncio.to_thread(maintenance.checkpoint)
                except sqlite3.Error as exc:
                    log.warning("database checkpoint failed (SQLite will checkpoint on its own): %s", exc)
                if loop.time() >= analyze_at:
                    analyze_at = loop.time() + analyze_every_s
                    try:
                        await asyncio.to_thread(maintenance.analyze)
                    except sqlite3.Error as exc:
                        log.warning("refreshing the database statistics failed (retried in %.0f s): %s",
                                    analyze_every_s, exc)
        finally:
            await asyncio.to_thread(maintenance.close)

    async def migrate(self) -> None:
        """Apply every pending migration (idempotent). An up-to-date database, the usual case, is told apart
        without loading alembic (``revisions``)."""
        if await is_current(self.engine):
            return

        def _upgrade(conn: Connection) -> None:
            from alembic import command
            from alembic.config import Config as AlembicConfig

            if conn.dialect.name == "postgresql":
                # Several processes starting at once on one server: one migrates, the others wait and find it done.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            cfg = AlembicConfig()
            cfg.set_main_option("script_location", str(_MIGRATIONS))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

        try:
            async with self.engine.begin() as conn:
                await conn.run_sync(_upgrade)
        except SQLAlchemyError as exc:
            raise StorageError(f"database migration failed on {self._safe_url()}: {exc}") from exc

    async def integrity_ok(self) -> bool:
        if not self.is_sqlite:
            return True
        async with self.engine.connect() as conn:
            result = (await conn.execute(text("PRAGMA integrity_check"))).scalar_one()
        return bool(result == "ok")

    def _safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    async def aclose(self) -> None:
        if self._maintenance is not None:
            self._maintenance.cancel()
            await asyncio.gather(self._maintenance, return_exceptions=True)
            self._maintenance = None
        await self.engine.dispose()


_Work = TypeVar("_Work", AsyncSession, AsyncConnection)


@asynccontextmanager
async def _committed(work: _Work) -> AsyncIterator[_Work]:
    """Commit on success, roll back on any error (a database error becomes a StorageError), always close."""
    try:
        yield work
        await work.commit()
    except OperationalError as exc:
        await asyncio.shield(work.rollback())
        raise StorageError(
            f"the database could not be written or read ({exc.orig}): is the disk full or the file locked? "
            "Nothing was half-written; free space and the work is taken again") from exc
    except BaseException:
        # Shielded: a unit of work cancelled mid-write (a stopping daemon) must still release the write lock, or
        # the next writer waits for it in vain.
        await asyncio.shield(work.rollback())
        raise
    finally:
        await asyncio.shield(work.close())


class _Maintenance:
    """A connection of its own, used from one worker thread at a time, for checkpoints and statistics."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            self._conn.execute(f"PRAGMA analysis_limit={_ANALYSIS_LIMIT}")
        return self._conn

    def checkpoint(self) -> None:
        with self._lock:
            self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def analyze(self) -> None:
        with self._lock:
            self._connection().execute("ANALYZE")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
