"""Scheduler benchmark: 10,000 jobs across 500 members on the real clock and a real SQLite file.

Prints start-up time, memory, and the drift between planned and actual run times (claim, and hand-over to the
outbox) for a steady load and for a burst where every job is due in the same second. Deliveries are stored by the
real outbox (one row each), as in the daemon. Also measures an idle heartbeat beat over the 500 members (model
calls must be zero).

    .venv/bin/python tests/bench/bench_scheduler.py [--jobs 10000] [--members 500] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import func, insert, select

from assistant.clock import SystemClock
from assistant.config import HeartbeatConfig, SchedulerConfig
from assistant.heartbeat import Heartbeat
from assistant.messages import Reply
from assistant.outbox import Outbox
from assistant.scheduler import Job, JobRun, JobView, Scheduler
from assistant.storage.db import Database
from assistant.storage.tables import Member, Message


class BenchHost:
    def __init__(self, db: Database, clock: SystemClock) -> None:
        self.outbox = Outbox(db, {}, clock)
        self.model_calls = 0

    async def run_agent_job(self, job: JobView) -> str:
        self.model_calls += 1
        return "ok"

    async def heartbeat_turn(self, member_id: int, findings: list[str]) -> str | None:
        self.model_calls += 1
        return None

    async def deliver(self, reply: Reply, *, member_id: int | None) -> None:
        await self.outbox.enqueue(reply, member_id)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


async def seed(db: Database, jobs: int, members: int, first_at: datetime, spread_s: float, interval_s: float) -> None:
    async with db.session() as s:
        await s.execute(insert(Member), [{"name": f"m{i}", "role": "member", "timezone": "Europe/Berlin",
                                          "private": False, "allowed": True, "created_at": first_at}
                                         for i in range(members)])
        ids = list((await s.execute(select(Member.id))).scalars())
        rows = []
        for n in range(jobs):
            start = first_at + timedelta(seconds=spread_s * n / jobs)
            rows.append({
                "member_id": ids[n % members], "owner_name": f"m{n % members}", "owner_platform_id": f"u{n}",
                "group_key": None, "channel": "telegram", "chat_id": f"dm{n % members}", "thread_id": None,
                "created_by": ids[n % members], "kind": "reminder", "payload": f"reminder {n}",
                "trigger_type": "interval",
                "trigger_spec": {"seconds": interval_s, "start": (start - timedelta(seconds=interval_s)).isoformat()},
                "description": "bench", "timezone": "Europe/Berlin", "lang": "en", "state": "active",
                "next_run_at": start, "missed_policy": "run_once", "grace_s": 3600, "created_at": first_at,
            })
        await s.execute(insert(Job), rows)
        # Each member talked to the assistant once, so the heartbeat considers all 500.
        await s.execute(insert(Message), [{
            "direction": "in", "channel": "telegram", "chat_id": f"dm{i}", "chat_kind": "direct", "member_id": mid,
            "sender_id": f"u{i}", "sender_name": f"m{i}", "text": "hello", "platform_message_id": f"p{i}",
            "status": "answered", "addressed": True, "attempts": 0, "extra": {}, "created_at": first_at}
            for i, mid in enumerate(ids)])


async def drift_figures(db: Database, since: datetime) -> tuple[int, list[float], list[float]]:
    async with db.session() as s:
        rows = (await s.execute(select(JobRun.planned_at, JobRun.started_at, JobRun.queued_at)
                                .where(JobRun.planned_at >= since))).all()
    claim = [(st - p).total_seconds() for p, st, _ in rows]
    handed = [(q - p).total_seconds() for p, _, q in rows if q is not None]
    return len(rows), claim, handed


def show(label: str, count: int, claim: list[float], handed: list[float]) -> None:
    print(f"{label}: {count} runs; drift planned->claim p50 {pct(claim, 50) * 1000:.1f} ms, "
          f"p99 {pct(claim, 99) * 1000:.1f} ms, max {max(claim) * 1000:.1f} ms; planned->outbox p50 "
          f"{pct(handed, 50) * 1000:.1f} ms, p99 {pct(handed, 99) * 1000:.1f} ms, max {max(handed) * 1000:.1f} ms")


async def main(jobs: int, members: int, seconds: float) -> None:
    proc = psutil.Process()
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await db.migrate()
        clock = SystemClock()
        host = BenchHost(db, clock)
        interval = 60.0
        steady_start = clock.now() + timedelta(seconds=5)
        await seed(db, jobs, members, steady_start, interval, interval)
        rss0 = proc.memory_info().rss

        config = SchedulerConfig(min_interval_s=1)
        began = time.perf_counter()
        scheduler = Scheduler(db, clock, config, host)
        await scheduler.start()
        await scheduler.next_due()
        startup_ms = (time.perf_counter() - began) * 1000
        print(f"jobs {jobs}, members {members}, interval {interval:.0f} s ({jobs / interval:.0f} runs/s steady)")
        print(f"start-up: {startup_ms:.1f} ms (recover + first wake computation over {jobs} jobs)")

        await asyncio.sleep((steady_start - clock.now()).total_seconds() + seconds)
        count, claim, handed = await drift_figures(db, steady_start)
        show(f"steady {seconds:.0f} s", count, claim, handed)
        print(f"memory: RSS {proc.memory_info().rss / 2**20:.0f} MiB "
              f"(+{(proc.memory_info().rss - rss0) / 2**20:.0f} MiB while running {jobs} jobs)")
        await scheduler.aclose()

        # Burst: every job due in the same second (a restart after a short stop, or everyone at 09:00).
        burst_at = clock.now() + timedelta(seconds=3)
        async with db.session() as s:
            await s.execute(Job.__table__.update().values(
                next_run_at=burst_at, trigger_spec={"seconds": 3600.0, "start": (burst_at - timedelta(
                    hours=1)).isoformat()}))
        scheduler = Scheduler(db, clock, config, host)
        await scheduler.start()
        await asyncio.sleep((burst_at - clock.now()).total_seconds())
        while True:
            async with db.session() as s:
                done = (await s.execute(select(func.count()).select_from(JobRun).where(
                    JobRun.planned_at == burst_at, JobRun.queued_at.is_not(None)))).scalar_one()
            if done >= jobs:
                break
            await asyncio.sleep(0.2)
        count, claim, handed = await drift_figures(db, burst_at)
        show("burst (all due at once)", count, claim, handed)
        await scheduler.aclose()

        beat = Heartbeat(db, clock, HeartbeatConfig(active_hours="", daily_cap=3), host, Path(tmp) / "ws")
        calls_before = host.model_calls
        began = time.perf_counter()
        spoke = await beat.beat()
        print(f"idle heartbeat over {members} members: {(time.perf_counter() - began) * 1000:.0f} ms, "
              f"model calls {host.model_calls - calls_before}, messages {len(spoke)}")
        async with db.session() as s:
            out = (await s.execute(select(func.count()).select_from(Message).where(
                Message.direction == "out"))).scalar_one()
        print(f"outbox rows: {out}; mean claim drift {statistics.fmean(claim) * 1000:.1f} ms")
        await db.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60.0)
    ns = parser.parse_args()
    asyncio.run(main(ns.jobs, ns.members, ns.seconds))
