"""Several processes on one PostgreSQL: leases (take, expire, take over), the receiver's leader lease, and the
outbox's row-lock claim that sends each reply once and a chat's replies in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select, text

from assistant.clock import SystemClock
from assistant.config import SchedulerConfig
from assistant.leases import Leader, Leases, read_leases, read_workers
from assistant.messages import Reply
from assistant.outbox import Outbox
from assistant.scheduler import JobKind, JobRun, JobView, Scheduler, run_key
from assistant.status_report import collect_status, print_status
from assistant.storage.db import Database
from assistant.storage.tables import Message
from channels.console import ConsoleChannel
from tests.standins.manual_clock import ManualClock
from tests.standins.postgres import PostgresServer, postgres_bin, running_postgres
from tests.standins.scheduler_world import Host, add_member, scope

WAIT_S = 15.0


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    assert postgres_bin() is not None, "PostgreSQL is not installed: run scripts/test.sh (apt-get install postgresql)"
    with running_postgres() as server:
        yield server


@pytest.fixture
async def db(postgres: PostgresServer) -> AsyncIterator[Database]:
    database = Database(postgres.new_database())
    await database.migrate()
    yield database
    await database.aclose()


async def test_a_lease_is_held_by_one_process_until_released(db: Database) -> None:
    a, b = Leases(db, ttl_s=30), Leases(db, ttl_s=30)
    assert await a.try_acquire("lane:alice") is True
    assert await a.try_acquire("lane:alice") is True  # ours already: renewed
    assert await b.try_acquire("lane:alice") is False
    assert [(row.name, row.holder) for row in await read_leases(db)] == [("lane:alice", a.holder)]
    await a.release("lane:alice")
    assert await b.try_acquire("lane:alice") is True


async def test_the_lease_of_a_process_that_stopped_renewing_is_taken_over(db: Database) -> None:
    dead = Leases(db, ttl_s=1.0)  # never started: nothing renews its leases, as after SIGKILL
    assert await dead.try_acquire("lane:bob") is True
    alive = Leases(db, ttl_s=1.0)
    assert await alive.try_acquire("lane:bob") is False
    async with asyncio.timeout(WAIT_S):
        await alive.acquire("lane:bob")
    assert [row.holder for row in await read_leases(db)] == [alive.holder]


async def test_a_stalled_leader_learns_that_it_lost_the_lease(db: Database) -> None:
    stalled = Leases(db, ttl_s=1.0)
    first = Leader(stalled, "receiver:telegram")
    await first.wait()
    standby = Leases(db, ttl_s=1.0)
    second = Leader(standby, "receiver:telegram")
    async with asyncio.timeout(WAIT_S):
        await second.wait()  # the first renewed nothing for a lease time
    await stalled.start()  # its keeper runs again and finds the lease taken
    try:
        async with asyncio.timeout(WAIT_S):
            await first.lost.wait()
        assert "receiver:telegram" not in stalled.held
        assert not second.lost.is_set()
    finally:
        await stalled.aclose()


async def test_workers_report_their_heartbeat_and_a_clean_stop_frees_everything(db: Database) -> None:
    a = Leases(db, ttl_s=30, info=lambda: {"channels": ["telegram"]})
    b = Leases(db, ttl_s=30)
    await a.start()
    await b.start()
    try:
        await a.try_acquire("receiver:telegram")
        workers = {w.id: w for w in await read_workers(db)}
        assert workers[a.holder].alive and workers[b.holder].alive
        assert workers[a.holder].info == {"channels": ["telegram"]}
        await a.aclose()
        workers = {w.id: w for w in await read_workers(db)}
        assert not workers[a.holder].alive and workers[b.holder].alive
        assert await read_leases(db) == []
        assert await b.try_acquire("receiver:telegram") is True  # at once, not after the lease time
    finally:
        await b.aclose()


class _Sends:
    """Every reply the channels were given, in the order they were sent, and a way to await a count of them."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self._more = asyncio.Event()

    def __call__(self, reply: Reply) -> None:
        self.order.append(reply.idempotency_key)
        self._more.set()

    async def until(self, count: int) -> None:
        async with asyncio.timeout(WAIT_S):
            while len(self.order) < count:
                self._more.clear()
                await self._more.wait()


def _reply(chat: str, n: int) -> Reply:
    return Reply(channel="console", chat_id=chat, text=f"{chat} #{n}", idempotency_key=f"{chat}:{n}")


async def test_two_outboxes_on_one_table_send_each_reply_once_and_in_order(db: Database) -> None:
    sends = _Sends()
    order = sends.order
    channels = [ConsoleChannel(show=sends) for _ in range(2)]
    outboxes = [Outbox(db, {"console": c}, SystemClock()) for c in channels]
    for outbox in outboxes:
        await outbox.start()
    try:
        chats = ("team-a", "team-b", "team-c")
        for n in range(20):
            # Both processes write replies into the same chats, as turns on either side finish.
            await asyncio.gather(*(outboxes[(n + i) % 2].enqueue(_reply(chat, n), None)
                                   for i, chat in enumerate(chats)))
        await sends.until(60)
        await asyncio.sleep(0.3)  # a second send would land now: nothing announces an event that must not come
    finally:
        for outbox in outboxes:
            await outbox.aclose()
    assert sorted(order) == sorted(f"{chat}:{n}" for chat in chats for n in range(20))
    for chat in chats:
        assert [k for k in order if k.startswith(chat)] == [f"{chat}:{n}" for n in range(20)]
    assert all(channel.sent for channel in channels)  # both processes delivered


async def test_a_reply_locked_by_another_process_holds_back_its_chat(db: Database) -> None:
    sends = _Sends()
    channel = ConsoleChannel(show=sends)
    outbox = Outbox(db, {"console": channel}, SystemClock())
    for n in range(3):
        await outbox.enqueue(_reply("team", n), None)  # not started: stored only
    async with db.engine.connect() as other:
        # Another process is sending the oldest reply: its row is locked.
        first = (await other.execute(select(Message.id).where(Message.chat_id == "team").order_by(Message.id)
                                     .limit(1).with_for_update())).scalar_one()
        await outbox.start()
        await asyncio.sleep(0.5)  # what must not happen sends no event: give it the time it would take
        assert channel.sent == []  # nothing overtakes the reply in flight
        await other.execute(text("UPDATE messages SET status = 'sent' WHERE id = :i"), {"i": first})
        await other.commit()
    try:
        await outbox.enqueue(_reply("team", 3), None)  # wakes the chat
        await sends.until(3)
    finally:
        await outbox.aclose()
    assert [r.idempotency_key for r in channel.sent] == ["team:1", "team:2", "team:3"]


async def test_status_lists_every_process_and_what_it_holds(postgres: PostgresServer, make_config: Any) -> None:
    url = postgres.new_database()
    config = make_config(storage={"url": url})
    db = Database(url)
    await db.migrate()
    leases = Leases(db, ttl_s=30, info=lambda: {"channels": ["telegram"], "queue_depth": 3})
    await leases.start()
    try:
        await leases.try_acquire("receiver:telegram")
        await leases.try_acquire("lane:telegram:-100:7")
        await leases.try_acquire("singleton:heartbeat")
        report = await collect_status(config)
    finally:
        await leases.aclose()
        await db.aclose()
    [process] = report["processes"]
    assert process["alive"] and process["receivers"] == ["telegram"] and process["lanes"] == 1
    assert process["channels"] == ["telegram"] and process["queue_depth"] == 3
    assert process["singletons"] == ["heartbeat"]
    out = Console(record=True, width=200)
    print_status(report, out)
    assert "1 process(es) on this database" in out.export_text()


async def test_two_schedulers_on_one_database_run_each_planned_run_once(db: Database) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    config = SchedulerConfig()
    alice = scope(await add_member(db, "Alice"), "Alice")
    hosts = [Host(db, clock), Host(db, clock)]
    schedulers = [Scheduler(db, clock, config, host) for host in hosts]
    for scheduler in schedulers:
        await scheduler.start()
    try:
        await clock.settled(2)
        plan = schedulers[0].plan("every 15 minutes", timezone="UTC")
        for n in range(5):
            await schedulers[n % 2].create(alice, plan, what=f"check the build {n}", kind=JobKind.AGENT)
        await clock.run_in_steps(clock.now() + timedelta(minutes=90), timedelta(minutes=1), sleepers=2)
        for scheduler in schedulers:
            await scheduler.drain()
    finally:
        for scheduler in schedulers:
            await scheduler.aclose()
    async with db.session() as s:
        runs = list((await s.execute(select(JobRun))).scalars())
        outbound = list((await s.execute(select(Message.idempotency_key).where(Message.direction == "out")))
                        .scalars())
    calls = [(job.id, job.planned_at) for host in hosts for job in host.agent_calls]
    assert len(runs) == 30  # 5 jobs, every 15 minutes for 90 minutes
    assert sorted(calls) == sorted((run.job_id, run.planned_at) for run in runs)  # each run once, in one process
    assert sorted(outbound) == sorted(run_key(run.job_id, run.planned_at) for run in runs)  # one reply each


class _HangingHost(Host):
    """A process whose agent job never finishes (it is about to die)."""

    async def run_agent_job(self, job: JobView) -> str:
        self.agent_calls.append(job)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_run_left_running_by_a_dead_process_is_reported_after_the_time_limit(db: Database) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    config = SchedulerConfig(agent_timeout_s=120)
    alice = scope(await add_member(db, "Alice"), "Alice")
    dying = Scheduler(db, clock, config, _HangingHost(db, clock))
    await dying.start()
    await clock.settled()
    await dying.create(alice, dying.plan("in 1 minute", timezone="UTC"), what="summarise", kind=JobKind.AGENT)
    await clock.settled()
    await clock.advance(timedelta(minutes=1))
    await dying.aclose(drain_s=0)  # gone mid-run: the run stays "running"
    survivor = Scheduler(db, clock, config, Host(db, clock))
    await survivor.start()
    try:
        await clock.settled()
        async with db.session() as s:
            assert [r.task_status for r in (await s.execute(select(JobRun))).scalars()] == ["running"]
        await clock.run_in_steps(clock.now() + timedelta(minutes=5), timedelta(minutes=1))
    finally:
        await survivor.aclose()
    async with db.session() as s:
        [run] = (await s.execute(select(JobRun))).scalars()
    assert run.task_status == "failed" and run.note == "interrupted by a restart"
