"""The job book: create, list, pause, resume and cancel jobs, with the permission and cap checks in code.

A member manages their own jobs; an admin may also manage other members' group jobs (never their direct-chat
jobs). A schedule is validated before it is stored: it must be understood, lie in the future, fire no more often
than ``min_interval_s``, and keep the member within ``max_jobs_per_member`` and ``max_runs_per_member_day``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, select

from assistant.clock import Clock
from assistant.config import SchedulerConfig
from assistant.errors import PermissionDenied, ScheduleError
from assistant.messages import ChatKind, MemberScope
from assistant.scheduler.phrases import Lang, parse_when
from assistant.scheduler.tables import Job, JobKind, JobState, MissedPolicy
from assistant.scheduler.triggers import Schedule, TriggerSpec, zone
from assistant.storage.db import Database

__all__ = ["JobBook", "JobView", "Plan", "format_runs"]

_LIVE = (JobState.ACTIVE, JobState.PAUSED)


@dataclass(frozen=True, slots=True)
class JobView:
    """A job as the rest of the system sees it. ``planned_at`` and ``note`` are set when it is handed over for a
    run ("missed at 09:30, ran late")."""

    id: int
    member_id: int
    owner_name: str
    owner_platform_id: str
    group_key: str | None
    channel: str
    chat_id: str
    thread_id: str | None
    kind: JobKind
    payload: str
    description: str
    timezone: str
    state: JobState
    next_run_at: datetime | None
    missed_policy: MissedPolicy
    grace_s: int
    lang: str = "en"
    planned_at: datetime | None = None
    note: str | None = None

    @classmethod
    def of(cls, job: Job, *, planned_at: datetime | None = None, note: str | None = None) -> JobView:
        return cls(
            id=job.id, member_id=job.member_id, owner_name=job.owner_name, owner_platform_id=job.owner_platform_id,
            group_key=job.group_key, channel=job.channel, chat_id=job.chat_id, thread_id=job.thread_id,
            kind=JobKind(job.kind), payload=job.payload, description=job.description, timezone=job.timezone,
            state=JobState(job.state), next_run_at=job.next_run_at, missed_policy=MissedPolicy(job.missed_policy),
            grace_s=job.grace_s, lang=job.lang, planned_at=planned_at, note=note,
        )

    def scope(self, *, is_admin: bool = False, private: bool = False) -> MemberScope:
        """The owner's scope in the chat the job was set in: an agent job runs as a turn there."""
        return MemberScope(
            member_id=self.member_id, member_name=self.owner_name, channel=self.channel, chat_id=self.chat_id,
            chat_kind=ChatKind.GROUP if self.group_key else ChatKind.DIRECT, thread_id=self.thread_id,
            timezone=self.timezone, is_admin=is_admin, private=private,
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated schedule and what is left of the text it was read from."""

    trigger: TriggerSpec
    description: str
    timezone: str
    next_runs: tuple[datetime, ...]
    lang: Lang
    rest: str = ""

    def echo(self) -> str:
        return format_runs(self.next_runs, self.timezone, self.lang)


def format_runs(runs: tuple[datetime, ...] | list[datetime], timezone: str, lang: Lang = "en") -> str:
    tz = zone(timezone)
    shown = ", ".join(r.astimezone(tz).strftime("%a %Y-%m-%d %H:%M") for r in runs)
    if lang == "zh":
        return f"接下来：{shown}（{timezone}）"
    return f"next: {shown} ({timezone})"


def _parse_hhmm(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


class JobBook:
    def __init__(self, db: Database, clock: Clock, config: SchedulerConfig) -> None:
        self._db = db
        self._clock = clock
        self._config = config

    # ---- validation --------------------------------------------------------------------------------------
    def plan(self, when: str, *, timezone: str, whole: bool = False) -> Plan:
        """Read and validate a schedule; raises ScheduleError with what to change (or the question to ask)."""
        now = self._clock.now()
        parsed = parse_when(when, timezone=timezone, now=now, default_time=_parse_hhmm(self._config.default_time),
                            whole=whole)
        schedule = Schedule(parsed.trigger, timezone)
        gap = schedule.shortest_gap_s(now)
        if gap is not None and gap < self._config.min_interval_s:
            limit = self._config.min_interval_s
            raise ScheduleError(
                f"runs every {gap:g} s are too frequent here: the shortest allowed interval is {limit} s"
                if parsed.lang == "en" else f"每 {gap:g} 秒一次太频繁了：最短间隔是 {limit} 秒")
        runs = tuple(schedule.upcoming(now, 3))
        if not runs:
            raise ScheduleError("that schedule never fires after now: check the dates"
                                if parsed.lang == "en" else "这个时间安排之后不会再触发：请检查日期")
        return Plan(parsed.trigger, parsed.description, timezone, runs, parsed.lang, parsed.rest)

    async def _check_caps(self, member_id: int, plan: Plan) -> None:
        now = self._clock.now()
        async with self._db.session() as s:
            rows = (await s.execute(select(Job).where(Job.member_id == member_id, Job.state.in_(_LIVE)))).scalars()
            jobs = list(rows)
        if len(jobs) >= self._config.max_jobs_per_member:
            raise ScheduleError(
                f"you have {len(jobs)} scheduled jobs, the most allowed: cancel one with /cancel <id> first")
        limit = self._config.max_runs_per_member_day
        day_end = now + timedelta(days=1)
        total = Schedule(plan.trigger, plan.timezone).runs_between(now, day_end, limit + 1)
        for job in jobs:
            if total > limit:
                break
            if job.state == JobState.ACTIVE:
                spec = TriggerSpec(job.trigger_type, job.trigger_spec)  # type: ignore[arg-type]
                total += Schedule(spec, job.timezone).runs_between(now, day_end, limit + 1 - total)
        if total > limit:
            raise ScheduleError(
                f"this would make more than {limit} runs in the next 24 hours across your jobs: "
                "pick a longer interval or cancel a job")

    # ---- changes -----------------------------------------------------------------------------------------
    async def create(self, scope: MemberScope, plan: Plan, *, what: str, kind: JobKind,
                     owner_platform_id: str = "", missed_policy: MissedPolicy | None = None,
                     grace_s: int | None = None) -> JobView:
        what = what.strip()
        if not what:
            raise ScheduleError("say what the job should do after the time, e.g. '/remind in 20 minutes call Bob'"
                                if plan.lang == "en" else "请在时间后写上要做的事，例如“20分钟后 给Bob打电话”")
        await self._check_caps(scope.member_id, plan)
        job = Job(
            member_id=scope.member_id, owner_name=scope.member_name, owner_platform_id=owner_platform_id,
            group_key=scope.group_chat_key, channel=scope.channel, chat_id=scope.chat_id, thread_id=scope.thread_id,
            created_by=scope.member_id, kind=kind.value, payload=what, trigger_type=plan.trigger.type,
            trigger_spec=dict(plan.trigger.spec), description=plan.description, timezone=plan.timezone,
            lang=plan.lang, state=JobState.ACTIVE.value, next_run_at=plan.next_runs[0],
            missed_policy=(missed_policy or MissedPolicy(self._config.missed_policy)).value,
            grace_s=self._config.grace_s if grace_s is None else grace_s, created_at=self._clock.now(),
        )
        async with self._db.session() as s:
            s.add(job)
            await s.flush()
            return JobView.of(job)

    async def visible(self, scope: MemberScope) -> list[JobView]:
        """The member's own live jobs, plus (in a group) other members' live jobs delivered to this group."""
        cond = Job.member_id == scope.member_id
        if scope.group_chat_key:
            cond = cond | (Job.group_key == scope.group_chat_key)
        async with self._db.session() as s:
            rows = await s.execute(select(Job).where(cond, Job.state.in_(_LIVE)).order_by(Job.id))
            return [JobView.of(job) for job in rows.scalars()]

    async def count_live(self, member_id: int) -> int:
        async with self._db.session() as s:
            query = select(func.count()).select_from(Job).where(Job.member_id == member_id, Job.state.in_(_LIVE))
            return int((await s.execute(query)).scalar_one())

    async def change(self, scope: MemberScope, job_id: int, action: str) -> JobView:
        """``action`` is "cancel", "pause" or "resume". Raises PermissionDenied or ScheduleError. A resumed
        one-shot job whose time passed while it was paused comes back DONE."""
        now = self._clock.now()
        async with self._db.session() as s:
            job = await s.get(Job, job_id)
            if job is None or job.state in (JobState.DONE, JobState.CANCELLED):
                raise ScheduleError(f"there is no active job #{job_id}; /jobs lists yours")
            self._may_manage(scope, job)
            if action == "cancel":
                job.state = JobState.CANCELLED.value
                job.next_run_at = None
            elif action == "pause":
                if job.state == JobState.PAUSED:
                    raise ScheduleError(f"job #{job_id} is paused already; /resume {job_id} starts it again")
                job.state = JobState.PAUSED.value
            elif action == "resume":
                if job.state != JobState.PAUSED:
                    raise ScheduleError(f"job #{job_id} is not paused")
                spec = TriggerSpec(job.trigger_type, job.trigger_spec)  # type: ignore[arg-type]
                # Runs that fell into the pause are not "missed": the member asked for them not to happen.
                job.next_run_at = Schedule(spec, job.timezone).next_after(now)
                # A one-shot job whose time passed during the pause has nothing left to run: it is closed (DONE).
                job.state = (JobState.ACTIVE if job.next_run_at else JobState.DONE).value
            else:
                raise ScheduleError(f"unknown action {action!r}: use cancel, pause or resume")
            await s.flush()
            return JobView.of(job)

    @staticmethod
    def _may_manage(scope: MemberScope, job: Job) -> None:
        if job.member_id == scope.member_id:
            return
        if job.group_key is None:
            raise PermissionDenied(f"job #{job.id} belongs to {job.owner_name or 'another member'}")
        if not scope.is_admin:
            raise PermissionDenied(
                f"job #{job.id} belongs to {job.owner_name or 'another member'}; only admins manage others' group jobs")

    async def upcoming(self, job_id: int, count: int = 3) -> list[datetime]:
        async with self._db.session() as s:
            job = await s.get(Job, job_id)
        if job is None or job.state != JobState.ACTIVE or job.next_run_at is None:
            return []
        spec = TriggerSpec(job.trigger_type, job.trigger_spec)  # type: ignore[arg-type]
        return [job.next_run_at, *Schedule(spec, job.timezone).upcoming(job.next_run_at, count - 1)]
