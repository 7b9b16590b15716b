"""SQLite run on the event loop's own thread, with writers queued on an asyncio lock instead of SQLite's busy wait.

Why not aiosqlite: it runs every call (execute, fetch, commit, cursor close) on a worker thread and wakes the loop
through its self-pipe to hand the result back. For the small statements teamclaw makes, that hand-over costs more
than the statement: a unit of work of a few statements took 0.8 ms of CPU through aiosqlite and 0.3-0.4 ms inline,
and under a burst the worker threads contend for the GIL with the loop. SQLite itself answers these statements in
tens of microseconds from the page cache, so running them inline blocks the loop for less than a hop would.

What inline execution must not do is wait for a lock on the loop thread: a second unit of work that wants to write
while the first one is suspended (awaiting something else before its commit) would spin in SQLite's busy handler
and freeze the loop the first one needs to finish. So transactions are managed here, not by pysqlite:

* the connection runs in autocommit mode; reads outside a write run on their own, never blocked (WAL);
* the first write of a unit of work (INSERT, UPDATE, DELETE, DDL, SAVEPOINT, ...) first takes this engine's write
  lock, an ``asyncio.Lock`` (waiting suspends the task, FIFO), then opens ``BEGIN IMMEDIATE``; when another
  *process* holds SQLite's write lock (a CLI command, a backup), the begin is retried on asyncio sleeps, so the loop
  keeps running meanwhile;
* commit, rollback and closing the connection release the lock.

The dialect is used through SQLAlchemy's asyncio API like any async driver: it declares itself async and its calls
simply never suspend, except when waiting for the write lock (``await_`` hands that wait to the loop).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import URL
from sqlalchemy.util.concurrency import await_

__all__ = ["DRIVER", "LoopSQLiteDialect", "is_write"]

DRIVER = "teamclaw_loop"
WRITE_WAIT_S = 15.0  # how long a unit of work waits for the write lock before it gives up with "database is locked"
_READS = frozenset({"SELECT", "EXPLAIN", "VALUES"})
_READ_PRAGMAS = frozenset({
    "integrity_check", "quick_check", "table_info", "table_xinfo", "table_list", "index_list", "index_info",
    "index_xinfo", "foreign_key_list", "foreign_key_check", "database_list", "compile_options", "user_version",
    "schema_version", "data_version", "journal_mode", "page_count", "page_size", "freelist_count", "busy_timeout",
    "synchronous", "foreign_keys", "encoding", "function_list", "collation_list", "pragma_list",
})
_FIRST_RETRY_S = 0.002
_MAX_RETRY_S = 0.05


class _Ready:
    """An awaitable that is done at once. SQLAlchemy's ``AsyncConnection.execute`` insists that a driver awaited
    something during a statement; handing it this costs two greenlet switches and never reaches the loop."""

    def __await__(self) -> Any:
        return
        yield  # unreachable: makes this a generator that finishes without suspending


_READY = _Ready()


class _LoopCursor(sqlite3.Cursor):
    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's asyncio results before they are read from sync code. A sqlite3 cursor is read
        on this same thread, so its rows stay where they are."""


class _LoopConnection(sqlite3.Connection):
    def cursor(self, factory: Any = _LoopCursor) -> Any:  # type: ignore[override]
        return super().cursor(factory)


async def _acquire(lock: asyncio.Lock, timeout_s: float) -> None:
    # Not asyncio.wait_for: on Python 3.11 it returns normally when the task is cancelled in the same moment the
    # lock is granted, and the cancellation is lost (a scheduler told to stop kept running). asyncio.timeout
    # keeps it, and a cancelled acquire never holds the lock.
    async with asyncio.timeout(timeout_s):
        await lock.acquire()


def is_write(statement: str) -> bool:
    """Whether a statement may write (conservative: anything not plainly a read counts, a CTE included, and
    every PRAGMA that sets something or is not a known query, such as wal_checkpoint or optimize)."""
    head = statement.lstrip(" \t\r\n(").split(None, 1)
    if not head:
        return False
    word = head[0].upper()
    if word != "PRAGMA":
        return word not in _READS
    if len(head) < 2 or "=" in head[1]:
        return True
    name = head[1].split("(", 1)[0].strip().rsplit(".", 1)[-1].strip("\"'` ;").lower()
    return name not in _READ_PRAGMAS


class LoopSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite called inline from SQLAlchemy's asyncio layer; one writer at a time through an asyncio lock."""

    driver = DRIVER
    is_async = True
    supports_statement_cache = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lock: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._writer: sqlite3.Connection | None = None  # the connection holding the write lock, if any
        self.write_wait_s = WRITE_WAIT_S

    @classmethod
    def get_pool_class(cls, url: URL) -> type[pool.Pool]:
        return pool.AsyncAdaptedQueuePool

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        cparams.setdefault("factory", _LoopConnection)
        return super().connect(*cargs, **cparams)

    def on_connect(self) -> Any:
        inherited = super().on_connect()

        def connect(conn: Any) -> None:
            if inherited is not None:
                inherited(conn)
            conn.isolation_level = None  # autocommit: transactions are opened by _begin_write, not by pysqlite

        return connect

    # ---- statements ---------------------------------------------------------------------------------------
    def do_execute(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        self._before(cursor.connection, statement)
        cursor.execute(statement, parameters)

    def do_execute_no_params(self, cursor: Any, statement: str, context: Any = None) -> None:
        self._before(cursor.connection, statement)
        cursor.execute(statement)

    def do_executemany(self, cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        self._before(cursor.connection, statement)
        cursor.executemany(statement, parameters)

    def _before(self, conn: sqlite3.Connection, statement: str) -> None:
        if self._writer is not conn and is_write(statement):
            self._begin_write(conn)
        else:
            await_(_READY)

    # ---- the write lock -----------------------------------------------------------------------------------
    def _write_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._lock is None or self._lock_loop is not loop:  # a new loop (tests, a second asyncio.run)
            self._lock, self._lock_loop, self._writer = asyncio.Lock(), loop, None
        return self._lock

    def _begin_write(self, conn: sqlite3.Connection) -> None:
        lock = self._write_lock()
        try:
            await_(_acquire(lock, self.write_wait_s))
        except TimeoutError:
            raise sqlite3.OperationalError(
                f"database is locked: another unit of work of this process kept the write lock for "
                f"{self.write_wait_s:.0f} s") from None
        self._writer = conn
        try:
            self._begin_immediate(conn)
        except BaseException:
            self._release(conn)
            raise

    def _begin_immediate(self, conn: sqlite3.Connection) -> None:
        """Open the write transaction; another process holding the file's write lock is waited for on the loop."""
        if conn.in_transaction:
            return
        deadline = time.monotonic() + self.write_wait_s
        delay = _FIRST_RETRY_S
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() >= deadline:
                    raise
            await_(asyncio.sleep(delay))
            delay = min(delay * 2, _MAX_RETRY_S)

    def _release(self, conn: Any) -> None:
        # SQLAlchemy passes the pool's proxy at the ends of a unit of work and the raw connection with a cursor.
        conn = getattr(conn, "dbapi_connection", conn)
        if self._writer is conn:
            self._writer = None
            if self._lock is not None and self._lock.locked():
                self._lock.release()

    # ---- ends of a unit of work ---------------------------------------------------------------------------
    def do_commit(self, dbapi_connection: Any) -> None:
        try:
            dbapi_connection.commit()
        finally:
            if not dbapi_connection.in_transaction:
                self._release(dbapi_connection)

    def do_rollback(self, dbapi_connection: Any) -> None:
        try:
            dbapi_connection.rollback()
        finally:
            self._release(dbapi_connection)

    def do_close(self, dbapi_connection: Any) -> None:
        try:
            dbapi_connection.close()
        finally:
            self._release(dbapi_connection)

    def do_terminate(self, dbapi_connection: Any) -> None:
        self.do_close(dbapi_connection)


registry.register(f"sqlite.{DRIVER}", __name__, "LoopSQLiteDialect")
