"""The scheduler loop on a hand-moved clock: exact once-per-period runs across DST, restarts, downtime, retries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from assistant.config import SchedulerConfig
from assistant.messages import MemberScope
from assistant.scheduler import (
    DeliveryStatus,
    Job,
    JobKind,
    JobRun,
    JobView,
    MissedPolicy,
    Scheduler,
    TaskStatus,
    run_key,
)
from assistant.storage.db import Database
from assistant.storage.tables import Message
from tests.standins.manual_clock import ManualClock
from tests.standins.scheduler_world import Host, add_member, open_db, scope

NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class World:
    db: Database
    clock: ManualClock
    host: Host
    config: SchedulerConfig
    scheduler: Scheduler
    alice: MemberScope

    async def restart(self) -> Scheduler:
        await self.scheduler.aclose()
        self.scheduler = Scheduler(self.db, self.clock, self.config, self.host)
        await self.scheduler.start()
        await self.clock.settled()
        return self.scheduler

    async def add(self, when: str, what: str, *, kind: JobKind = JobKind.REMINDER,
                  missed: MissedPolicy | None = None) -> JobView:
        plan = self.scheduler.plan(when, timezone=self.alice.timezone)
        job = await self.scheduler.create(self.alice, plan, what=what, kind=kind, owner_platform_id="u_alice",
                                          missed_policy=missed)
        await self.clock.settled()
        return job

    async def runs(self, job_id: int) -> list[JobRun]:
        async with self.db.session() as s:
            return list((await s.execute(select(JobRun).where(JobRun.job_id == job_id)
                                         .order_by(JobRun.planned_at))).scalars())

    async def outbox_rows(self) -> list[Message]:
        async with self.db.session() as s:
            return list((await s.execute(select(Message).where(Message.direction == "out")
                                         .order_by(Message.id))).scalars())


async def make_world(tmp_path: Path, start: datetime, timezone: str = "America/New_York",
                     **config: object) -> World:
    db = await open_db(tmp_path)
    clock = ManualClock(start)
    host = Host(db, clock)
    cfg = SchedulerConfig(**config)  # type: ignore[arg-type]
    alice_id = await add_member(db, "Alice", timezone=timezone)
    scheduler = Scheduler(db, clock, cfg, host)
    await scheduler.start()
    await clock.settled()
    return World(db, clock, host, cfg, scheduler, scope(alice_id, "Alice", timezone=timezone))


@pytest.fixture
async def spring(tmp_path: Path) -> AsyncIterator[World]:
    # Friday 2026-03-06 00:00 in New York; clocks go forward on Sunday 2026-03-08 at 02:00.
    world = await make_world(tmp_path, datetime(2026, 3, 6, 0, 0, tzinfo=NEW_YORK).astimezone(UTC))
    yield world
    await world.scheduler.aclose()
    await world.db.aclose()


async def test_daily_job_fires_once_a_day_at_local_time_across_spring_forward(spring: World) -> None:
    job = await spring.add("every day at 9:30", "post stand-up notes")
    await spring.clock.run_in_steps(spring.clock.now() + timedelta(days=8), timedelta(hours=1))

    runs = await spring.runs(job.id)
    local = [r.planned_at.astimezone(NEW_YORK) for r in runs]
    assert [d.day for d in local] == [6, 7, 8, 9, 10, 11, 12, 13]
    assert {(d.hour, d.minute) for d in local} == {(9, 30)}
    # Before the change 09:30 EST is 14:30 UTC, after it 09:30 EDT is 13:30 UTC.
    assert runs[0].planned_at.hour == 14 and runs[-1].planned_at.hour == 13
    assert all(r.task_status == TaskStatus.DONE and r.delivery_status == DeliveryStatus.QUEUED for r in runs)
    assert [r.text for r in await spring.outbox_rows()] == ["⏰ post stand-up notes"] * 8


async def test_weekday_job_skips_the_weekend_over_a_simulated_week(spring: World) -> None:
    job = await spring.add("every weekday at 9:30", "stand-up")
    await spring.clock.run_in_steps(spring.clock.now() + timedelta(days=8), timedelta(hours=3))
    days = [r.planned_at.astimezone(NEW_YORK).strftime("%a %d") for r in await spring.runs(job.id)]
    assert days == ["Fri 06", "Mon 09", "Tue 10", "Wed 11", "Thu 12", "Fri 13"]


async def test_a_time_that_happens_twice_when_clocks_go_back_runs_once(tmp_path: Path) -> None:
    # 2026-11-01: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    world = await make_world(tmp_path, datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK).astimezone(UTC))
    try:
        job = await world.add("every day at 01:30", "night batch check")
        await world.clock.run_in_steps(world.clock.now() + timedelta(days=3), timedelta(minutes=30))
        runs = await world.runs(job.id)
        assert [r.planned_at.astimezone(NEW_YORK).strftime("%m-%d %H:%M") for r in runs] == [
            "11-01 01:30", "11-02 01:30", "11-03 01:30"]
        assert len(world.host.delivered) == 3
    finally:
        await world.scheduler.aclose()
        await world.db.aclose()


async def test_a_restart_between_two_runs_does_not_run_either_again(spring: World) -> None:
    job = await spring.add("every day at 9:30", "water the plants")
    await spring.clock.advance_to(datetime(2026, 3, 6, 12, 0, tzinfo=NEW_YORK))
    assert len(await spring.runs(job.id)) == 1

    await spring.restart()
    await spring.clock.advance_to(datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK))
    await spring.restart()
    await spring.clock.advance(timedelta(hours=2))

    runs = await spring.runs(job.id)
    assert [r.planned_at.astimezone(NEW_YORK).day for r in runs] == [6, 7]
    assert len(await spring.outbox_rows()) == 2


async def test_a_run_claimed_before_is_never_claimed_again(spring: World) -> None:
    """Even if next_run_at points back at a run that already happened (a restored backup, a second process), the
    UNIQUE(job_id, planned_at) claim refuses to run it twice."""
    job = await spring.add("tomorrow at 9", "renew the certificate")
    await spring.clock.advance_to(datetime(2026, 3, 7, 9, 5, tzinfo=NEW_YORK))
    first = await spring.runs(job.id)
    assert len(first) == 1
    async with spring.db.session() as s:
        await s.execute(update(Job).where(Job.id == job.id).values(state="active", next_run_at=first[0].planned_at))
    spring.scheduler.wake()
    await spring.clock.settled()
    assert len(await spring.runs(job.id)) == 1
    assert len(spring.host.delivered) == 1
    async with spring.db.session() as s:
        assert (await s.get(Job, job.id)).state == "done"  # type: ignore[union-attr]


async def test_downtime_over_run_times_gives_one_late_run_with_a_note(spring: World) -> None:
    job = await spring.add("every day at 9:00", "check the build")
    await spring.clock.advance_to(datetime(2026, 3, 6, 8, 0, tzinfo=NEW_YORK))
    await spring.scheduler.aclose()  # the machine sleeps from Friday 08:00 ...
    spring.clock.set(datetime(2026, 3, 9, 9, 20, tzinfo=NEW_YORK).astimezone(UTC))  # ... to Monday 09:20
    await spring.restart()

    runs = await spring.runs(job.id)
    assert len(runs) == 1  # never a burst: Fri, Sat, Sun, Mon are coalesced into one run
    assert runs[0].planned_at == datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)
    assert runs[0].note == "missed at 09:00, ran late; 3 earlier run(s) while I was offline were not made up"
    assert spring.host.delivered[0].text.startswith("⏰ check the build\n(missed at 09:00, ran late")
    async with spring.db.session() as s:
        assert (await s.get(Job, job.id)).next_run_at == datetime(2026, 3, 10, 9, 0, tzinfo=NEW_YORK)  # type: ignore[union-attr]


async def test_downtime_with_the_skip_policy_says_it_skipped(spring: World) -> None:
    job = await spring.add("every day at 9:00", "check the build", missed=MissedPolicy.SKIP)
    await spring.scheduler.aclose()
    spring.clock.set(datetime(2026, 3, 6, 9, 10, tzinfo=NEW_YORK).astimezone(UTC))
    await spring.restart()

    runs = await spring.runs(job.id)
    assert [(r.task_status, r.delivery_status) for r in runs] == [(TaskStatus.SKIPPED, DeliveryStatus.QUEUED)]
    assert spring.host.delivered[0].text == (
        "⏰ Job #1 “check the build” skipped: it was due at 09:00 while I was offline (this job skips missed runs)")


async def test_downtime_longer_than_the_grace_window_skips_and_says_so(spring: World) -> None:
    job = await spring.add("in 2 hours", "call Bob")
    await spring.scheduler.aclose()
    spring.clock.set(spring.clock.now() + timedelta(hours=5))  # three hours late, grace is one hour
    await spring.restart()
    runs = await spring.runs(job.id)
    assert runs[0].task_status == TaskStatus.SKIPPED
    assert "call Bob" in spring.host.delivered[0].text and "more than 1 h ago" in spring.host.delivered[0].text


async def test_failed_delivery_is_retried_without_running_the_task_again(spring: World) -> None:
    job = await spring.add("tomorrow at 9", "summarise what the team shipped", kind=JobKind.AGENT)
    spring.host.agent_answers.append("The team shipped the login page.")
    spring.host.fail_next_deliveries = 1
    await spring.clock.advance_to(datetime(2026, 3, 7, 9, 0, tzinfo=NEW_YORK))
    await spring.scheduler.drain()
    await spring.clock.settled()

    [run] = await spring.runs(job.id)
    assert (run.task_status, run.delivery_status, run.delivery_attempts) == (TaskStatus.DONE, "pending", 1)
    assert spring.host.delivered == []

    await spring.clock.advance(timedelta(seconds=spring.config.delivery_retry_s))
    [run] = await spring.runs(job.id)
    assert run.delivery_status == DeliveryStatus.QUEUED
    assert len(spring.host.agent_calls) == 1  # the task ran once; only the hand-over was repeated
    rows = await spring.outbox_rows()
    assert [(r.text, r.idempotency_key) for r in rows] == [
        ("The team shipped the login page.", run_key(job.id, run.planned_at))]

    # A crash after the outbox stored it but before the run was marked: the hand-over repeats, the outbox
    # keeps one row under the same key.
    async with spring.db.session() as s:
        await s.execute(update(JobRun).where(JobRun.id == run.id).values(delivery_status="pending"))
    await spring.restart()
    assert spring.host.delivery_attempts == 3
    assert len(await spring.outbox_rows()) == 1
    assert len(spring.host.agent_calls) == 1


async def test_agent_job_runs_as_the_owner_in_the_chat_it_was_set_in(spring: World) -> None:
    job = await spring.add("in 20 minutes", "check the cloud bill", kind=JobKind.AGENT)
    spring.host.agent_answers.append("The bill is 12% higher than last month.")
    await spring.clock.advance(timedelta(minutes=20))
    await spring.scheduler.drain()
    await spring.host.wait_delivered(1)

    [call] = spring.host.agent_calls
    assert (call.id, call.member_id, call.payload) == (job.id, spring.alice.member_id, "check the cloud bill")
    assert call.scope() == spring.alice
    [reply] = spring.host.delivered
    assert (reply.channel, reply.chat_id, reply.mention_user_ids, reply.mention_names) == (
        "telegram", "g1", ("u_alice",), ("Alice",))


async def test_a_failing_agent_job_is_recorded_and_the_owner_told(spring: World) -> None:
    job = await spring.add("in 20 minutes", "check the cloud bill", kind=JobKind.AGENT)
    spring.host.fail_agent = True
    await spring.clock.advance(timedelta(minutes=20))
    await spring.scheduler.drain()
    await spring.host.wait_delivered(1)
    [run] = await spring.runs(job.id)
    assert run.task_status == TaskStatus.FAILED
    text = spring.host.delivered[0].text
    assert "could not run this time" in text and "exploded" not in text  # never str(exc) to a chat


async def test_an_agent_run_cut_by_shutdown_is_reported_not_rerun(spring: World) -> None:
    import asyncio

    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(job: JobView) -> str:
        spring.host.agent_calls.append(job)
        started.set()
        await release.wait()
        return "finished"

    spring.host.run_agent_job = slow  # type: ignore[method-assign]
    job = await spring.add("in 20 minutes", "long report", kind=JobKind.AGENT)
    await spring.clock.advance(timedelta(minutes=20))
    async with asyncio.timeout(5):
        await started.wait()
    await spring.scheduler.aclose(drain_s=0)
    assert [r.task_status for r in await spring.runs(job.id)] == [TaskStatus.RUNNING]

    await spring.restart()
    [run] = await spring.runs(job.id)
    assert run.task_status == TaskStatus.FAILED and run.note == "interrupted by a restart"
    assert "was not run again" in spring.host.delivered[0].text
    assert len(spring.host.agent_calls) == 1


async def test_a_backwards_clock_jump_does_not_repeat_a_run(spring: World) -> None:
    job = await spring.add("every day at 9:30", "stand-up")
    await spring.clock.advance_to(datetime(2026, 3, 6, 9, 45, tzinfo=NEW_YORK))
    spring.clock.set(datetime(2026, 3, 6, 8, 45, tzinfo=NEW_YORK).astimezone(UTC))  # NTP sets us back an hour
    spring.scheduler.wake()
    await spring.clock.settled()
    await spring.clock.advance(timedelta(hours=2))
    assert len(await spring.runs(job.id)) == 1
    await spring.clock.advance_to(datetime(2026, 3, 7, 9, 31, tzinfo=NEW_YORK))
    assert len(await spring.runs(job.id)) == 2


async def test_paused_jobs_do_not_run_and_resume_from_now(spring: World) -> None:
    job = await spring.add("every day at 9:30", "stand-up")
    await spring.scheduler.change(spring.alice, job.id, "pause")
    await spring.clock.advance_to(datetime(2026, 3, 8, 12, 0, tzinfo=NEW_YORK))
    assert await spring.runs(job.id) == []
    resumed = await spring.scheduler.change(spring.alice, job.id, "resume")
    assert resumed.next_run_at == datetime(2026, 3, 9, 9, 30, tzinfo=NEW_YORK)
    await spring.clock.settled()
    assert await spring.runs(job.id) == []  # the paused days are not "missed"
