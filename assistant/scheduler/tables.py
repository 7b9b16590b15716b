"""Tables of scheduled jobs and of their runs; a run row is the claim that makes every run happen at most once."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from assistant.messages import utcnow
from assistant.storage.tables import Base

__all__ = ["DeliveryStatus", "Job", "JobKind", "JobRun", "JobState", "MissedPolicy", "TaskStatus"]


class JobKind(enum.StrEnum):
    REMINDER = "reminder"  # the payload is sent as it is; no model call
    AGENT = "agent"  # the payload is a request run as a turn of the owner's sub-agent


class JobState(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DONE = "done"  # a one-shot job that ran (or was skipped)
    CANCELLED = "cancelled"


class MissedPolicy(enum.StrEnum):
    RUN_ONCE = "run_once"  # one late run (with a note) when it is no older than the job's grace window
    SKIP = "skip"  # record it as skipped and tell the owner


class TaskStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # the result waits to be handed to the outbox (retried with backoff)
    QUEUED = "queued"  # the outbox holds it under ``idempotency_key`` and delivers it on its own


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "state", "next_run_at"),
        Index("ix_jobs_member_state", "member_id", "state"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(Integer)
    owner_name: Mapped[str] = mapped_column(String(200), default="")
    # The owner's user id on ``channel``, so the delivered text can mention them.
    owner_platform_id: Mapped[str] = mapped_column(String(128), default="")
    group_key: Mapped[str | None] = mapped_column(String(200), nullable=True)  # MemberScope.group_chat_key
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    thread_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_by: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # JobKind
    payload: Mapped[str] = mapped_column(Text)
    trigger_type: Mapped[str] = mapped_column(String(16))  # date | interval | cron
    trigger_spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(300), default="")  # the schedule in words, for /jobs
    timezone: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8), default="en")  # language of notes about this job ("en" | "zh")
    state: Mapped[str] = mapped_column(String(16), default=JobState.ACTIVE)
    next_run_at: Mapped[datetime | None] = mapped_column(nullable=True)
    missed_policy: Mapped[str] = mapped_column(String(16), default=MissedPolicy.RUN_ONCE)
    grace_s: Mapped[int] = mapped_column(Integer, default=3600)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column(nullable=True)


class JobRun(Base):
    """One planned occurrence of a job. Inserting the row claims the run: UNIQUE(job_id, planned_at) means a
    second claim (a restart, a second loop) fails instead of running the task again."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job_id", "planned_at", name="uq_job_runs_planned"),
        Index("ix_job_runs_delivery", "delivery_status", "next_delivery_at"),
        Index("ix_job_runs_task", "task_status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    planned_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(nullable=True)
    task_status: Mapped[str] = mapped_column(String(16), default=TaskStatus.RUNNING)
    result: Mapped[str] = mapped_column(Text, default="")  # the text handed to the outbox
    note: Mapped[str | None] = mapped_column(String(300), nullable=True)  # "missed at 09:30, ran late"
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    delivery_status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    delivery_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_delivery_at: Mapped[datetime | None] = mapped_column(nullable=True)
    queued_at: Mapped[datetime | None] = mapped_column(nullable=True)  # handed to the outbox
    drift_s: Mapped[float] = mapped_column(Float, default=0.0)  # started_at - planned_at
