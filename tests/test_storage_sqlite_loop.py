"""The SQLite dialect that runs on the event loop's thread (``assistant.storage.sqlite_loop``): file URLs use it,
writers queue on an asyncio lock (never on SQLite's busy wait on the loop), readers are never blocked (WAL), every
end of a unit of work releases the lock, and another process holding the write lock is waited for on the loop."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.errors import StorageError
from assistant.messages import ChatKind, MemberScope
from assistant.storage import sqlite_loop
from assistant.storage.db import Database, engine_url
from assistant.storage.sqlite_loop import DRIVER, LoopSQLiteDialect, is_write
from assistant.storage.tables import Message
from memory.records import visible_query

WAIT = 5.0  # upper bound for anything that should happen "at once"; never reached when the code is right
# The loop is "not blocked" while a write waits when a 5 ms ticker keeps ticking through the wait: a loop held for
# the whole wait would tick once at its end. Counting ticks, not timing a gap, keeps the check independent of how
# loaded the machine is (a busy CI box can stall any single tick for a few hundred milliseconds).


# ---- helpers ------------------------------------------------------------------------------------------------------
class LoopWatch:
    """A task ticking on the loop every few milliseconds; a blocked loop shows as a long gap between two ticks."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.ticks = 0
        self._targets: list[tuple[int, asyncio.Event]] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.period)
            self.ticks += 1
            for target, reached in self._targets:
                if self.ticks >= target:
                    reached.set()

    async def ticks_more(self, n: int) -> None:
        """Return once the ticker has ticked ``n`` more times (the loop kept running meanwhile)."""
        reached = asyncio.Event()
        self._targets.append((self.ticks + n, reached))
        await asyncio.wait_for(reached.wait(), WAIT)


def _dialect(db: Database) -> LoopSQLiteDialect:
    dialect = db.engine.sync_engine.dialect
    assert isinstance(dialect, LoopSQLiteDialect)
    return dialect


async def _names(db: Database) -> list[str]:
    async with db.session() as s:
        return list((await s.execute(text("SELECT name FROM items ORDER BY id"))).scalars())


async def _insert(db: Database, name: str) -> None:
    async with db.session() as s:
        await s.execute(text("INSERT INTO items(name) VALUES (:n)"), {"n": name})


async def _at_once(awaitable: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(awaitable, WAIT)


async def _assert_lock_released(db: Database) -> None:
    """No unit of work holds the write lock: checked on the dialect, then by writing from a connection other than
    the last one used (a connection that leaked the lock is still the dialect's writer and would not wait for it,
    so the probe must write from another one)."""
    dialect = _dialect(db)
    assert dialect._writer is None
    assert dialect._lock is None or not dialect._lock.locked()
    wait_s, dialect.write_wait_s = dialect.write_wait_s, 0.3  # a lock still held fails the probe with "locked"
    try:
        async with db.session() as holder:
            await holder.execute(text("SELECT 1"))  # checks out the idle connection (a read takes no lock) ...
            async with db.session() as s:  # ... so this write runs on another one
                await s.execute(text("INSERT INTO lock_probe DEFAULT VALUES"))
    finally:
        dialect.write_wait_s = wait_s


def _message(key: str | None = None, text_: str = "hi") -> Message:
    return Message(direction="out", channel="console", chat_id="c1", status="pending", text=text_,
                   idempotency_key=key)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """A file database on the loop dialect with a small table ``items(name UNIQUE)``."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'loop.db'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)"))
        await conn.execute(text("CREATE TABLE lock_probe (id INTEGER PRIMARY KEY)"))
    yield database
    await database.aclose()


@pytest.fixture
async def app_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A file database on the loop dialect with the project's schema migrated."""
    database = Database(f"sqlite:///{tmp_path / 'app.db'}")
    await database.migrate()
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE lock_probe (id INTEGER PRIMARY KEY)"))
    yield database
    await database.aclose()


# ---- 1. which URLs go to the loop driver --------------------------------------------------------------------------
def test_engine_url_sends_sqlite_files_to_the_loop_driver(tmp_path: Path) -> None:
    assert DRIVER == "teamclaw_loop"
    assert engine_url("sqlite:///data/teamclaw.db") == "sqlite+teamclaw_loop:///data/teamclaw.db"
    assert engine_url("sqlite+aiosqlite:///data/teamclaw.db") == "sqlite+teamclaw_loop:///data/teamclaw.db"
    absolute = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"  # four slashes: an absolute path
    assert engine_url(absolute) == f"sqlite+teamclaw_loop:///{tmp_path / 'a.db'}"
    # in-memory databases keep aiosqlite (they need its single shared connection); other databases are untouched
    for unchanged in ("sqlite+aiosqlite:///:memory:", "sqlite:///:memory:",
                      "sqlite+aiosqlite:///file:shared?mode=memory&cache=shared&uri=true",
                      "postgresql+asyncpg://user:pw@localhost:5432/teamclaw", "postgresql://localhost/teamclaw"):
        assert engine_url(unchanged) == unchanged


async def test_a_database_on_a_file_uses_the_loop_dialect_and_memory_does_not(tmp_path: Path) -> None:
    for url in (f"sqlite+aiosqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'two.db'}"):
        database = Database(url)
        try:
            assert isinstance(database.engine.sync_engine.dialect, LoopSQLiteDialect)
            assert database.engine.url.drivername == "sqlite+teamclaw_loop"
            assert await database.integrity_ok()
            async with database.engine.connect() as conn:  # the connect pragmas ran: WAL on the file
                assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        finally:
            await database.aclose()
    memory = Database("sqlite+aiosqlite:///:memory:")
    try:
        assert not isinstance(memory.engine.sync_engine.dialect, LoopSQLiteDialect)
        assert memory.engine.url.drivername == "sqlite+aiosqlite"
    finally:
        await memory.aclose()


# ---- 2. reads and writes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("statement", [
    "SELECT 1",
    "select * from items where id = ?",
    "  \n\t SELECT name FROM items",
    "((SELECT 1) UNION SELECT 2)",
    "(\n  select 1)",
    "EXPLAIN QUERY PLAN SELECT * FROM items",
    "explain select 1",
    "VALUES (1), (2)",
    "PRAGMA integrity_check",
    "pragma table_info(items)",
    "PRAGMA journal_mode",
    'PRAGMA main.table_info("items")',
    "PRAGMA quick_check;",
    "",
    "   \n",
])
def test_is_write_reads(statement: str) -> None:
    assert is_write(statement) is False


@pytest.mark.parametrize("statement", [
    "INSERT INTO items(name) VALUES ('a')",
    "insert or ignore into items(name) values (?)",
    "UPDATE items SET name = 'b'",
    "DELETE FROM items",
    "REPLACE INTO items(name) VALUES ('c')",
    "CREATE TABLE t (x INTEGER)",
    "CREATE INDEX ix ON items(name)",
    "DROP TABLE t",
    "ALTER TABLE items ADD COLUMN y TEXT",
    "SAVEPOINT sa_savepoint_1",
    "RELEASE SAVEPOINT sa_savepoint_1",
    "PRAGMA user_version=3",
    "pragma user_version = 3",
    "PRAGMA wal_checkpoint(TRUNCATE)",
    "PRAGMA optimize;",
    "PRAGMA incremental_vacuum",
    "PRAGMA",
    "WITH x AS (SELECT 1) INSERT INTO items(name) SELECT 'w' FROM x",
    "WITH x AS (SELECT 1) SELECT * FROM x",  # conservative: a CTE counts as a write
    "  \n (INSERT INTO items(name) VALUES ('p'))",
    "\t\tDELETE FROM items",
])
def test_is_write_writes(statement: str) -> None:
    assert is_write(statement) is True


# ---- 3. two writers: the second waits on the loop, then proceeds -------------------------------------------------
async def test_a_second_writer_waits_for_the_first_without_blocking_the_loop(app_db: Database) -> None:
    first_wrote, first_may_commit, second_reached = asyncio.Event(), asyncio.Event(), asyncio.Event()
    second_saw: list[int] = []

    async def first() -> None:
        async with app_db.session() as s:
            s.add(_message("first"))
            await s.flush()  # the INSERT runs: this unit of work now holds the write lock
            first_wrote.set()
            await first_may_commit.wait()  # suspended between its write and its commit

    async def second() -> None:
        async with app_db.session() as s:
            second_reached.set()
            s.add(_message("second"))
            await s.flush()  # waits for the write lock
            # Inside its own write transaction, which began only after the first one committed.
            second_saw.append((await s.execute(select(func.count()).select_from(Message))).scalar_one())

    async def reader() -> int:
        async with app_db.session() as s:
            return int((await s.execute(select(func.count()).select_from(Message))).scalar_one())

    async with LoopWatch() as watch:
        first_task = asyncio.create_task(first())
        await _at_once(first_wrote.wait())
        second_task = asyncio.create_task(second())
        await _at_once(second_reached.wait())
        await watch.ticks_more(20)  # the loop runs on while the second writer waits
        assert not second_task.done(), "the second writer should wait for the lock, not fail or pass it"
        assert not first_task.done()
        assert await _at_once(reader()) == 0  # another task runs meanwhile; nothing committed yet
        first_may_commit.set()
        await _at_once(first_task)
        await _at_once(second_task)
    assert second_saw == [2]  # the first row committed, then the second written after it
    async with app_db.session() as s:
        keys = (await s.execute(select(Message.idempotency_key).order_by(Message.id))).scalars().all()
    assert keys == ["first", "second"]


async def test_many_concurrent_writers_all_commit_queued_on_the_lock(db: Database,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    busy: list[str] = []  # every "database is locked" SQLite itself raised: a writer that met another one's lock
    execute = sqlite_loop._LoopConnection.execute

    def execute_seeing_busy(conn: sqlite3.Connection, *args: Any) -> Any:
        try:
            return execute(conn, *args)
        except sqlite3.OperationalError as exc:
            busy.append(str(exc))
            raise

    async def insert_two_with_a_pause(i: int) -> None:  # the others run while this one holds the write open
        async with db.session() as s:
            await s.execute(text("INSERT INTO items(name) VALUES (:n)"), {"n": f"row{i}a"})
            await asyncio.sleep(0.001)
            await s.execute(text("INSERT INTO items(name) VALUES (:n)"), {"n": f"row{i}b"})

    monkeypatch.setattr(sqlite_loop._LoopConnection, "execute", execute_seeing_busy)
    await _at_once(asyncio.gather(*(insert_two_with_a_pause(i) for i in range(30))))
    assert sorted(await _names(db)) == sorted(f"row{i}{part}" for i in range(30) for part in "ab")
    assert busy == []  # the writers queued on the asyncio lock and never reached SQLite's busy wait


# ---- 4. readers are not blocked by an open write ------------------------------------------------------------------
async def test_a_read_during_an_open_write_is_not_blocked_and_sees_committed_data(db: Database) -> None:
    await _insert(db, "committed")
    wrote, may_commit = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with db.session() as s:
            await s.execute(text("INSERT INTO items(name) VALUES ('pending')"))
            wrote.set()
            await may_commit.wait()

    task = asyncio.create_task(writer())
    await _at_once(wrote.wait())
    assert await _at_once(_names(db)) == ["committed"]  # not held up by the open write; its row is not seen
    assert not task.done()
    may_commit.set()
    await _at_once(task)
    assert await _names(db) == ["committed", "pending"]


# ---- 5. a failed unit of work rolls back and releases the lock ----------------------------------------------------
async def test_an_exception_in_a_unit_of_work_rolls_back_and_releases_the_lock(db: Database) -> None:
    _dialect(db).write_wait_s = 0.5  # a leaked lock would fail the next write in 0.5 s instead of hanging

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with db.session() as s:
            await s.execute(text("INSERT INTO items(name) VALUES ('lost')"))
            raise Boom()
    await _assert_lock_released(db)
    await _insert(db, "after")
    assert await _names(db) == ["after"]


async def test_an_integrity_error_releases_the_lock(app_db: Database) -> None:
    _dialect(app_db).write_wait_s = 0.5
    async with app_db.session() as s:
        s.add(_message("dup", "original"))
    with pytest.raises(IntegrityError):
        async with app_db.session() as s:
            s.add(_message("other", "rolled back with the failure"))
            await s.flush()
            s.add(_message("dup", "duplicate"))
    await _assert_lock_released(app_db)
    async with app_db.session() as s:
        s.add(_message("next", "after the failure"))
    async with app_db.session() as s:
        rows = (await s.execute(select(Message.idempotency_key, Message.text).order_by(Message.id))).all()
    assert [tuple(r) for r in rows] == [("dup", "original"), ("next", "after the failure")]


async def test_a_cancelled_unit_of_work_releases_the_lock(db: Database) -> None:
    _dialect(db).write_wait_s = 0.5
    wrote = asyncio.Event()

    async def stuck() -> None:
        async with db.session() as s:
            await s.execute(text("INSERT INTO items(name) VALUES ('cancelled')"))
            wrote.set()
            await asyncio.Event().wait()  # never set: cancelled while holding the write lock

    task = asyncio.create_task(stuck())
    await _at_once(wrote.wait())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _assert_lock_released(db)
    assert await _names(db) == []


async def test_a_writer_cancelled_while_waiting_for_the_lock_leaves_the_holder_alone(db: Database) -> None:
    _dialect(db).write_wait_s = 2.0
    wrote, may_commit, waiting = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with db.session() as s:
            await s.execute(text("INSERT INTO items(name) VALUES ('holder')"))
            wrote.set()
            await may_commit.wait()

    async def waiter() -> None:
        async with db.session() as s:
            waiting.set()
            await s.execute(text("INSERT INTO items(name) VALUES ('waiter')"))

    holding = asyncio.create_task(holder())
    await _at_once(wrote.wait())
    waiting_task = asyncio.create_task(waiter())
    await _at_once(waiting.wait())  # set just before its INSERT, which suspended on the lock before we resumed
    assert not waiting_task.done()
    waiting_task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting_task
    assert not holding.done()
    may_commit.set()
    await _at_once(holding)
    await _assert_lock_released(db)
    assert await _names(db) == ["holder"]


async def test_a_writer_cancelled_in_the_moment_it_is_granted_the_lock_stops(db: Database) -> None:
    """The holder commits and cancels the waiter in one step, so the waiter's lock request is granted and its
    task cancelled before it runs again: it must stop (not write), and the lock must be free. (asyncio.wait_for
    on Python 3.11 lost such a cancellation: a scheduler told to stop went on claiming jobs.)"""
    waiting = asyncio.Event()

    async def waiter() -> None:
        async with db.session() as s:
            waiting.set()
            await s.execute(text("INSERT INTO items(name) VALUES ('waiter')"))

    holder = AsyncSession(db.engine)
    try:
        await holder.execute(text("INSERT INTO items(name) VALUES ('holder')"))
        waiting_task = asyncio.create_task(waiter())
        await _at_once(waiting.wait())  # its INSERT is now queued on the lock
        await holder.commit()  # inline: releases the lock and grants it to the waiter, without a suspension
        waiting_task.cancel()
    finally:
        await holder.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting_task
    await _assert_lock_released(db)
    assert await _names(db) == ["holder"]


async def test_commit_on_an_open_connection_releases_the_lock(db: Database) -> None:
    _dialect(db).write_wait_s = 0.5
    async with db.engine.connect() as conn:
        await conn.execute(text("INSERT INTO items(name) VALUES ('committed')"))
        await conn.commit()
        # The connection stays checked out; another unit of work writes at once.
        await _insert(db, "other")  # a lock still held would fail this with "locked" after 0.5 s
        await conn.execute(text("INSERT INTO items(name) VALUES ('again')"))  # and this one writes again
        await conn.commit()
    assert await _names(db) == ["committed", "other", "again"]
    await _assert_lock_released(db)


# ---- 6. another process holds SQLite's write lock -----------------------------------------------------------------
_HOLDER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO items(name) VALUES ('from-process')")
print("locked", flush=True)
sys.stdin.readline()
conn.execute(sys.argv[2])
conn.close()
print("done", flush=True)
"""


class _OtherProcess:
    """A plain ``sqlite3`` in a child process holding the file's write lock until told to end (COMMIT or ROLLBACK)."""

    def __init__(self, path: Path, end: str = "COMMIT") -> None:
        self.path, self.end = path, end
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> _OtherProcess:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _HOLDER, str(self.path), self.end,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        assert await _at_once(self.proc.stdout.readline()) == b"locked\n"
        return self

    async def release(self) -> None:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        if self.proc.returncode is None and not self.proc.stdin.is_closing():
            self.proc.stdin.write(b"go\n")
            await self.proc.stdin.drain()
            self.proc.stdin.close()
            assert await _at_once(self.proc.stdout.readline()) == b"done\n"
        assert await _at_once(self.proc.wait()) == 0

    async def __aexit__(self, *exc: object) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            try:
                await self.release()
            except BaseException:
                self.proc.kill()
                await self.proc.wait()
                raise


async def test_a_write_waits_on_the_loop_while_another_process_holds_the_lock(db: Database, tmp_path: Path) -> None:
    await _insert(db, "before")
    async with LoopWatch() as watch, _OtherProcess(tmp_path / "loop.db") as other:
        writing = asyncio.create_task(_insert(db, "from-loop"))
        await watch.ticks_more(60)  # >= 0.3 s during which the loop keeps running
        assert not writing.done(), "the write should wait for the other process, not fail"
        # Another task on the loop completes meanwhile: a read, which sees neither uncommitted row.
        assert await _at_once(_names(db)) == ["before"]
        await watch.ticks_more(20)
        assert not writing.done()
        await other.release()  # the other process commits
        await _at_once(writing)
    assert await _names(db) == ["before", "from-process", "from-loop"]


async def test_a_write_gives_up_with_storage_error_when_another_process_keeps_the_lock(db: Database,
                                                                                       tmp_path: Path) -> None:
    _dialect(db).write_wait_s = 0.5
    async with LoopWatch() as watch, _OtherProcess(tmp_path / "loop.db", end="ROLLBACK") as other:
        started, ticks_before = time.monotonic(), watch.ticks
        with pytest.raises(StorageError, match="locked"):
            await _at_once(_insert(db, "refused"))
        waited = time.monotonic() - started
        assert watch.ticks - ticks_before >= 10  # the loop ticked on through the wait (held, it ticks once)
        await other.release()  # the other process rolls back
    assert 0.5 <= waited < 3.0
    await _assert_lock_released(db)  # the in-process lock was released by the failed write
    assert await _names(db) == []


async def test_a_write_cancelled_while_another_process_holds_the_lock_releases_it(db: Database,
                                                                                  tmp_path: Path) -> None:
    async with LoopWatch() as watch, _OtherProcess(tmp_path / "loop.db") as other:
        writing = asyncio.create_task(_insert(db, "cancelled"))
        await watch.ticks_more(10)  # retrying BEGIN IMMEDIATE on the loop
        assert not writing.done()
        writing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await writing
        await other.release()
    await _assert_lock_released(db)
    assert await _names(db) == ["from-process"]


# ---- 7. savepoints ------------------------------------------------------------------------------------------------
async def test_a_failed_savepoint_rolls_back_only_its_block(db: Database) -> None:
    await _insert(db, "existing")
    async with db.session() as s:
        await s.execute(text("INSERT INTO items(name) VALUES ('outer-1')"))
        with pytest.raises(IntegrityError):
            async with s.begin_nested():
                await s.execute(text("INSERT INTO items(name) VALUES ('inner')"))
                await s.execute(text("INSERT INTO items(name) VALUES ('existing')"))  # duplicate
        await s.execute(text("INSERT INTO items(name) VALUES ('outer-2')"))
        async with s.begin_nested():  # a savepoint that succeeds is kept
            await s.execute(text("INSERT INTO items(name) VALUES ('inner-ok')"))
    assert await _names(db) == ["existing", "outer-1", "outer-2", "inner-ok"]
    await _assert_lock_released(db)


async def test_a_savepoint_as_the_first_statement_opens_the_write(db: Database) -> None:
    async with db.session() as s:
        async with s.begin_nested():
            await s.execute(text("INSERT INTO items(name) VALUES ('nested-first')"))
        await s.execute(text("INSERT INTO items(name) VALUES ('outer')"))
    assert await _names(db) == ["nested-first", "outer"]


# ---- 8. the in-process wait times out with a clear error ----------------------------------------------------------
async def test_waiting_for_another_unit_of_work_times_out_with_a_clear_error(db: Database) -> None:
    _dialect(db).write_wait_s = 0.3
    wrote, may_commit = asyncio.Event(), asyncio.Event()

    async def holder() -> None:
        async with db.session() as s:
            await s.execute(text("INSERT INTO items(name) VALUES ('holder')"))
            wrote.set()
            await may_commit.wait()

    async with LoopWatch() as watch:
        task = asyncio.create_task(holder())
        await _at_once(wrote.wait())
        started, ticks_before = time.monotonic(), watch.ticks
        with pytest.raises(StorageError, match="locked") as caught:
            await _at_once(_insert(db, "waiter"))
        waited = time.monotonic() - started
        assert watch.ticks - ticks_before >= 5  # the loop ticked on through the wait (held, it ticks once)
        assert isinstance(caught.value.__cause__, Exception)
        assert isinstance(getattr(caught.value.__cause__, "orig", None), sqlite3.OperationalError)
        assert not task.done()
        may_commit.set()
        await _at_once(task)  # the holder still commits fine
    assert 0.3 <= waited < 3.0
    assert await _names(db) == ["holder"]
    await _assert_lock_released(db)


# ---- checkpoints off the loop -------------------------------------------------------------------------------------
async def test_background_checkpoints_copy_the_log_into_the_database_file(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'cp.db'}")
    try:
        await db.migrate()
        async with db.session() as s:
            await s.execute(text("CREATE TABLE blobs (body TEXT)"))
        async with db.session() as s:
            for _ in range(200):  # ~200 KB: far below the 1,000 pages at which SQLite would checkpoint by itself
                await s.execute(text("INSERT INTO blobs VALUES (:b)"), {"b": "x" * 1000})
        before = (tmp_path / "cp.db").stat().st_size
        db.start_maintenance(checkpoint_every_s=0.02)
        async with asyncio.timeout(10):
            # A file growing raises no event: look at it until the checkpointer has copied the log in.
            while (tmp_path / "cp.db").stat().st_size < before + 150_000:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        async with db.session() as s:
            assert (await s.execute(text("SELECT count(*) FROM blobs"))).scalar_one() == 200
    finally:
        await db.aclose()
    assert db._maintenance is None


async def test_background_statistics_let_a_fetch_by_id_use_the_primary_key(tmp_path: Path) -> None:
    path = tmp_path / "stats.db"
    db = Database(f"sqlite:///{path}")
    try:
        await db.migrate()
        async with db.session() as s:  # one member's private memory, as a long-used install holds it
            await s.execute(text(
                "INSERT INTO memory_records (id, text, kind, visibility, owner_member_id, source_ref, speaker, "
                "said_at, day, confidence, importance, trusted, private, vector_state, created_at, updated_at) "
                "VALUES (:id, 'a note', 'note', 'private', 1, '', 'Ann', :at, '', 0.8, 0.5, 1, 1, 'synced', :at, "
                ":at)"), [{"id": i, "at": "2026-01-01 00:00:00"} for i in range(1, 5001)])
        scope = MemberScope(1, "Ann", "cli", "ann", ChatKind.DIRECT)
        sql = str(visible_query(scope, list(range(1, 101))).compile(
            dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}))

        def plan() -> str:
            conn = sqlite3.connect(path)  # a new connection loads the statistics there are
            try:
                return " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            finally:
                conn.close()

        # Without statistics SQLite takes the scope index for selective and reads every record of the member.
        assert "ix_memory_scope" in plan()
        db.start_maintenance(checkpoint_every_s=0.01)
        async with asyncio.timeout(10):
            while "INTEGER PRIMARY KEY" not in plan():  # noqa: ASYNC110 - statistics raise no event
                await asyncio.sleep(0.02)
    finally:
        await db.aclose()


async def test_an_in_memory_database_has_no_checkpointer() -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    db.start_maintenance(checkpoint_every_s=0.01)
    assert db._maintenance is None
    await db.aclose()
