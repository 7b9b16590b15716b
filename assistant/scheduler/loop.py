"""The scheduler: one task that sleeps until the next due run, claims it, runs it and hands the result over.

It ticks on its own (``clock.sleep_until`` the earliest ``next_run_at`` or delivery retry; ``wake()`` when jobs
change), never polls and never waits for incoming traffic. Reminders complete as they are claimed; agent jobs run
as tasks owned by the scheduler (at most ``max_concurrent_runs`` at once, each cut off at ``agent_timeout_s``), so
a slow model turn never delays another job's start.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from datetime import datetime, timedelta

from assistant.clock import Clock
from assistant.config import SchedulerConfig
from assistant.errors import TeamclawError
from assistant.messages import MemberScope
from assistant.scheduler.host import JobHost
from assistant.scheduler.jobs import JobBook, JobView, Plan
from assistant.scheduler.runs import Claimed, RunBook
from assistant.scheduler.tables import JobKind, MissedPolicy, TaskStatus
from assistant.storage.db import Database

__all__ = ["Scheduler", "SchedulerState"]

log = logging.getLogger(__name__)

CLAIM_BATCH = 500
DELIVERY_BATCH = 500
RECOVER_MARGIN = timedelta(minutes=1)  # past the time limit: a live process has written its result by then
IDLE_WAKE = timedelta(hours=1)  # with nothing scheduled, look again now and then (jobs added by another process)


class SchedulerState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


class Scheduler:
    def __init__(self, db: Database, clock: Clock, config: SchedulerConfig, host: JobHost) -> None:
        self.clock = clock
        self.config = config
        self.jobs = JobBook(db, clock, config)
        self._runs = RunBook(db, config)
        # Other processes may run jobs from the same tables (PostgreSQL): their runs in progress are not ours.
        self._shared = not db.is_sqlite
        self._recover_at: datetime | None = None
        self._host = host
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._agent_tasks: set[asyncio.Task[None]] = set()
        self._agent_slots = asyncio.Semaphore(config.max_concurrent_runs)
        self.state = SchedulerState.NEW

    # ---- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.state is not SchedulerState.NEW:
            raise TeamclawError("the scheduler was started already; build a new one")
        # With other processes, a run is someone's interrupted one only once it outlived the agent time limit:
        # the loop looks for those (``_recover_others``).
        recovered = 0 if self._shared else await self._runs.recover_interrupted(self.clock.now())
        if recovered:
            log.warning("%d scheduled run(s) were interrupted by the last shutdown; owners are told", recovered)
        self.state = SchedulerState.RUNNING
        self._loop_task = asyncio.create_task(self._run(), name="scheduler")

    async def aclose(self, drain_s: float = 10.0) -> None:
        """Stop claiming; give running agent jobs ``drain_s`` to finish, then cancel them (a cancelled run stays
        "running" and is reported as interrupted at the next start, never re-run)."""
        if self.state is SchedulerState.CLOSED:
            return
        self.state = SchedulerState.CLOSED
        if self._loop_task is not None:
            self._loop_task.cancel()
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._agent_tasks:
            _, still = await asyncio.wait(set(self._agent_tasks), timeout=drain_s)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)

    def wake(self) -> None:
        """Jobs changed or a result is waiting: look again now instead of at the planned time."""
        self._wake.set()

    async def drain(self) -> None:
        """Wait for the agent jobs running now (shutdown and tests)."""
        while self._agent_tasks:
            await asyncio.gather(*set(self._agent_tasks), return_exceptions=True)

    # ---- job management (commands and the schedule tool) -------------------------------------------------
    def plan(self, when: str, *, timezone: str, whole: bool = False) -> Plan:
        return self.jobs.plan(when, timezone=timezone, whole=whole)

    async def create(self, scope: MemberScope, plan: Plan, *, what: str, kind: JobKind = JobKind.REMINDER,
                     owner_platform_id: str = "", missed_policy: MissedPolicy | None = None) -> JobView:
        job = await self.jobs.create(scope, plan, what=what, kind=kind, owner_platform_id=owner_platform_id,
                                     missed_policy=missed_policy)
        self.wake()
        return job

    async def change(self, scope: MemberScope, job_id: int, action: str) -> JobView:
        job = await self.jobs.change(scope, job_id, action)
        self._runs.forget(job_id)
        self.wake()
        return job

    # ---- the loop ----------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._recover_others()
                await self._tick()
                now = self.clock.now()
                wake_at = await self._runs.next_wake(now) or now + IDLE_WAKE
                if self._recover_at is not None:
                    wake_at = min(wake_at, self._recover_at)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A database hiccup must not end the scheduler: log it and look again shortly.
                log.exception("scheduler tick failed; retrying in %.0f s", self.config.delivery_retry_s)
                wake_at = self.clock.now() + timedelta(seconds=self.config.delivery_retry_s)
            await self.clock.sleep_until(wake_at, self._wake)

    async def _tick(self) -> None:
        while True:
            now = self.clock.now()
            agent_runs, seen = await self._runs.claim_due(now, CLAIM_BATCH)
            for claimed in agent_runs:
                self._spawn(claimed)
            delivered = await self._deliver(now)
            if seen < CLAIM_BATCH and delivered < DELIVERY_BATCH:
                return

    async def _recover_others(self) -> None:
        """Shared tables: a run left "running" well past the agent time limit belongs to a process that died; it is
        reported as interrupted, as a restart does for its own (looked at once per time limit)."""
        if not self._shared:
            return
        now = self.clock.now()
        if self._recover_at is not None and now < self._recover_at:
            return
        limit = timedelta(seconds=self.config.agent_timeout_s)
        self._recover_at = now + limit
        recovered = await self._runs.recover_interrupted(now, started_before=now - limit - RECOVER_MARGIN)
        if recovered:
            log.warning("%d scheduled run(s) of a process that stopped were reported as interrupted", recovered)

    def _spawn(self, claimed: Claimed) -> None:
        task = asyncio.create_task(self._run_agent(claimed), name=f"job-{claimed.job.id}")
        self._agent_tasks.add(task)
        task.add_done_callback(self._agent_done)

    def _agent_done(self, task: asyncio.Task[None]) -> None:
        self._agent_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("agent job task failed", exc_info=task.exception())

    async def _run_agent(self, claimed: Claimed) -> None:
        job = claimed.job
        async with self._agent_slots:
            try:
                async with asyncio.timeout(self.config.agent_timeout_s):
                    text = await self._host.run_agent_job(job)
                status = TaskStatus.DONE
                result = text.strip() + (f"\n({job.note})" if job.note else "")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduled job %s (run %s) failed", job.id, claimed.run_id)
                status, result = TaskStatus.FAILED, self._runs.failure_text(job)
        await self._runs.finish(claimed.run_id, status, result, self.clock.now())
        self.wake()

    async def _deliver(self, now: datetime) -> int:
        """Hand finished results to the outbox; a failure is retried later from the stored text."""
        pending = await self._runs.deliverable(now, DELIVERY_BATCH)
        queued: list[int] = []
        for run_id, attempts, reply, member_id in pending:
            try:
                await self._host.deliver(reply, member_id=member_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("handing run %s to the outbox failed (attempt %d); will retry", run_id, attempts + 1)
                await self._runs.delivery_failed(run_id, attempts, now)
                continue
            queued.append(run_id)
        await self._runs.mark_queued(queued, self.clock.now())
        return len(pending)

    async def next_due(self) -> datetime | None:
        return await self._runs.next_wake(self.clock.now())

    @property
    def running_agent_jobs(self) -> int:
        return len(self._agent_tasks)

    def __repr__(self) -> str:
        return f"<Scheduler {self.state.value} agent_jobs={len(self._agent_tasks)}>"

