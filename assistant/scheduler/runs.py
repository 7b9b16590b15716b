"""The run book: claims due runs (exactly once), records task results and tracks their hand-over to the outbox.

Claiming a run inserts its ``job_runs`` row and moves the job's ``next_run_at`` on in the same transaction; the
row's UNIQUE(job_id, planned_at) turns a second claim of the same run (after a crash, by a second loop) into a
no-op. Task status (running/done/failed/skipped) and delivery status (pending/queued) are separate columns, so a
failed hand-over is retried from the stored text without running the task again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.config import SchedulerConfig
from assistant.errors import ScheduleError
from assistant.messages import Reply
from assistant.scheduler.jobs import JobView
from assistant.scheduler.tables import DeliveryStatus, Job, JobKind, JobRun, JobState, MissedPolicy, TaskStatus
from assistant.scheduler.triggers import Schedule, TriggerSpec
from assistant.storage.db import Database

__all__ = ["Claimed", "RunBook", "run_key"]

log = logging.getLogger(__name__)

MAX_DELIVERY_BACKOFF_S = 600.0
_TEXTS = {
    "en": {
        "late": "missed at {at}, ran late",
        "late_more": "missed at {at}, ran late; {more} earlier run(s) while I was offline were not made up",
        "skip_policy": "skipped: it was due at {at} while I was offline (this job skips missed runs)",
        "skip_grace": "skipped: it was due at {at} while I was offline, more than {grace} ago",
        "skipped": "⏰ Job #{id} “{what}” {note}",
        "failed": "Scheduled task #{id} ({description}) could not run this time; the failure was logged.",
        "interrupted": "Scheduled task #{id} was interrupted by a restart and was not run again, so nothing "
                       "happens twice. It runs next time as planned.",
    },
    "zh": {
        "late": "原定 {at}，因离线延后执行",
        "late_more": "原定 {at}，因离线延后执行；离线期间另有 {more} 次没有补做",
        "skip_policy": "已跳过：原定 {at}，当时我不在线（此任务不补做错过的运行）",
        "skip_grace": "已跳过：原定 {at}，当时我不在线，已超过 {grace}",
        "skipped": "⏰ 任务 #{id}“{what}”{note}",
        "failed": "定时任务 #{id}（{description}）这次没能运行；错误已记录。",
        "interrupted": "定时任务 #{id} 被重启打断，没有重跑（避免执行两次）；下次按计划运行。",
    },
}


def _say(lang: str, key: str, **values: object) -> str:
    return _TEXTS.get(lang, _TEXTS["en"])[key].format(**values)


def run_key(job_id: int, planned_at: datetime) -> str:
    """The outbox idempotency key of one run: stable across retries and restarts."""
    return f"job:{job_id}:{planned_at:%Y%m%dT%H%M%S}"


def _spec(job: Job) -> TriggerSpec:
    return TriggerSpec(job.trigger_type, job.trigger_spec)  # type: ignore[arg-type]


def _duration(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds >= 3600 and seconds % 3600 == 0 else f"{max(1, seconds // 60)} min"


@dataclass(frozen=True, slots=True)
class Claimed:
    """An agent run claimed for execution (reminders and skips are complete when claimed)."""

    run_id: int
    job: JobView


class RunBook:
    def __init__(self, db: Database, config: SchedulerConfig) -> None:
        self._db = db
        self._config = config
        self._schedules: dict[int, Schedule] = {}

    def schedule(self, job: Job) -> Schedule:
        cached = self._schedules.get(job.id)
        if cached is None:
            cached = self._schedules[job.id] = Schedule(_spec(job), job.timezone)
        return cached

    def forget(self, job_id: int) -> None:
        self._schedules.pop(job_id, None)

    # ---- claiming ----------------------------------------------------------------------------------------
    async def claim_due(self, now: datetime, limit: int) -> tuple[list[Claimed], int]:
        """Claim up to ``limit`` due runs in one transaction. Returns the agent runs to execute and how many jobs
        were looked at. Reminders and skips are complete when claimed (their text is stored with the claim)."""
        async with self._db.session() as s:
            query = (select(Job).where(Job.state == JobState.ACTIVE, Job.next_run_at <= now)
                     .order_by(Job.next_run_at).limit(limit))
            jobs = list((await s.execute(query)).scalars())
            prepared = [p for job in jobs if (p := self._prepare(job, now)) is not None]
            fresh = await self._insert_new(s, prepared)
        return [Claimed(run.id, view) for run, view in fresh
                if view.kind == JobKind.AGENT and run.task_status == TaskStatus.RUNNING], len(jobs)

    async def _insert_new(self, s: AsyncSession, prepared: list[tuple[JobRun, JobView]],
                          ) -> list[tuple[JobRun, JobView]]:
        """Insert the run rows not claimed before; a row that exists already is skipped, never run again."""
        if not prepared:
            return []
        ids = {run.job_id for run, _ in prepared}
        planned = {run.planned_at for run, _ in prepared}
        existing = set((await s.execute(select(JobRun.job_id, JobRun.planned_at).where(
            JobRun.job_id.in_(ids), JobRun.planned_at.in_(planned)))).tuples())
        fresh = [(run, view) for run, view in prepared if (run.job_id, run.planned_at) not in existing]
        try:
            async with s.begin_nested():
                s.add_all([run for run, _ in fresh])
                await s.flush()
            return fresh
        except IntegrityError:
            pass  # claimed concurrently by another process: fall back to one savepoint per row
        inserted = []
        for run, view in fresh:
            try:
                async with s.begin_nested():
                    s.add(run)
                    await s.flush()
                inserted.append((run, view))
            except IntegrityError:
                continue
        return inserted

    def _prepare(self, job: Job, now: datetime) -> tuple[JobRun, JobView] | None:
        """Build the run row for the job's due occurrence (coalescing missed ones) and move the job on."""
        first = job.next_run_at
        assert first is not None
        try:
            schedule = self.schedule(job)
            planned, count = schedule.latest_until(first, now)
            following = schedule.next_after(max(now, planned))
        except ScheduleError:
            log.exception("job %s has a schedule that no longer loads; it is paused", job.id)
            job.state = JobState.PAUSED.value
            return None
        late_s = (now - planned).total_seconds()
        status, note = self._policy(job, schedule, planned, count, late_s)
        view = JobView.of(job, planned_at=planned, note=note)
        run = JobRun(job_id=job.id, planned_at=planned, started_at=now, task_status=status.value, note=note,
                     idempotency_key=run_key(job.id, planned), drift_s=late_s)
        if status == TaskStatus.SKIPPED:
            run.result = _say(job.lang, "skipped", id=job.id, what=job.payload[:80], note=note)
            run.finished_at = now
        elif view.kind == JobKind.REMINDER:
            run.task_status = TaskStatus.DONE.value
            run.result = f"⏰ {job.payload}" + (f"\n({note})" if note else "")
            run.finished_at = now
        job.next_run_at = following
        job.last_run_at = now
        if following is None:
            job.state = JobState.DONE.value
            self.forget(job.id)
        return run, view

    def _policy(self, job: Job, schedule: Schedule, planned: datetime, count: int,
                late_s: float) -> tuple[TaskStatus, str | None]:
        if count == 1 and late_s <= self._config.late_after_s:
            return TaskStatus.RUNNING, None
        at = schedule.local(planned).strftime("%a %H:%M" if late_s >= 86400 else "%H:%M")
        if job.missed_policy == MissedPolicy.RUN_ONCE and late_s <= job.grace_s:
            if count > 1:
                return TaskStatus.RUNNING, _say(job.lang, "late_more", at=at, more=count - 1)
            return TaskStatus.RUNNING, _say(job.lang, "late", at=at)
        if job.missed_policy == MissedPolicy.SKIP:
            return TaskStatus.SKIPPED, _say(job.lang, "skip_policy", at=at)
        return TaskStatus.SKIPPED, _say(job.lang, "skip_grace", at=at, grace=_duration(job.grace_s))

    # ---- results -----------------------------------------------------------------------------------------
    async def finish(self, run_id: int, status: TaskStatus, result: str, now: datetime) -> None:
        async with self._db.session() as s:
            await s.execute(update(JobRun).where(JobRun.id == run_id).values(
                task_status=status.value, result=result, finished_at=now))

    def failure_text(self, job: JobView) -> str:
        return _say(job.lang, "failed", id=job.id, description=job.description)

    async def recover_interrupted(self, now: datetime, *, started_before: datetime | None = None) -> int:
        """Runs left "running" by a crash: recorded as failed and the owner told; never run a second time. With
        ``started_before``, only runs started before then (other processes' runs in progress are left alone)."""
        query = (select(JobRun, Job).join(Job, Job.id == JobRun.job_id)
                 .where(JobRun.task_status == TaskStatus.RUNNING))
        if started_before is not None:
            query = query.where(JobRun.started_at < started_before)
        async with self._db.session() as s:
            rows = (await s.execute(query)).all()
            for run, job in rows:
                run.task_status = TaskStatus.FAILED.value
                run.note = "interrupted by a restart"
                run.result = _say(job.lang, "interrupted", id=job.id)
                run.finished_at = now
            return len(rows)

    # ---- delivery ----------------------------------------------------------------------------------------
    async def deliverable(self, now: datetime, limit: int) -> list[tuple[int, int, Reply, int]]:
        """(run id, attempts so far, reply, owner member id) of finished runs whose text waits for the outbox."""
        async with self._db.session() as s:
            query = (select(JobRun, Job).join(Job, Job.id == JobRun.job_id)
                     .where(JobRun.delivery_status == DeliveryStatus.PENDING,
                            JobRun.task_status != TaskStatus.RUNNING,
                            (JobRun.next_delivery_at.is_(None)) | (JobRun.next_delivery_at <= now))
                     .order_by(JobRun.id).limit(limit))
            rows = (await s.execute(query)).all()
        out = []
        for run, job in rows:
            mention = bool(job.group_key and (job.owner_platform_id or job.owner_name))
            reply = Reply(
                channel=job.channel, chat_id=job.chat_id, text=run.result, idempotency_key=run.idempotency_key,
                thread_id=job.thread_id,
                mention_user_ids=(job.owner_platform_id,) if mention and job.owner_platform_id else (),
                mention_names=(job.owner_name,) if mention and job.owner_name else (),
            )
            out.append((run.id, run.delivery_attempts, reply, job.member_id))
        return out

    async def mark_queued(self, run_ids: list[int], now: datetime) -> None:
        if not run_ids:
            return
        async with self._db.session() as s:
            await s.execute(update(JobRun).where(JobRun.id.in_(run_ids)).values(
                delivery_status=DeliveryStatus.QUEUED.value, queued_at=now, next_delivery_at=None))

    async def delivery_failed(self, run_id: int, attempts: int, now: datetime) -> None:
        delay = min(MAX_DELIVERY_BACKOFF_S, self._config.delivery_retry_s * 2 ** attempts)
        async with self._db.session() as s:
            await s.execute(update(JobRun).where(JobRun.id == run_id).values(
                delivery_attempts=attempts + 1, next_delivery_at=now + timedelta(seconds=delay)))

    # ---- timing ------------------------------------------------------------------------------------------
    async def next_wake(self, now: datetime) -> datetime | None:
        """The earliest of: the next job due, the next delivery retry. None when there is nothing at all."""
        waiting = (JobRun.delivery_status == DeliveryStatus.PENDING, JobRun.task_status != TaskStatus.RUNNING)
        async with self._db.session() as s:
            if (await s.execute(select(JobRun.id).where(*waiting, JobRun.next_delivery_at.is_(None)).limit(1))).first():
                return now
            job_at = (await s.execute(select(func.min(Job.next_run_at)).where(
                Job.state == JobState.ACTIVE))).scalar_one()
            retry_at = (await s.execute(select(func.min(JobRun.next_delivery_at)).where(*waiting))).scalar_one()
        times = [t for t in (job_at, retry_at) if t is not None]
        return min(times) if times else None
