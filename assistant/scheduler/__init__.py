"""Scheduled jobs: plain words to exact, persistent, exactly-once runs delivered through the outbox.

Jobs enter the message path like any other reply: a run's result is handed to the outbox (``JobHost.deliver``)
under an idempotency key derived from (job, planned time).
"""

from __future__ import annotations

from assistant.scheduler.commands import register_commands
from assistant.scheduler.host import JobHost
from assistant.scheduler.jobs import JobBook, JobView, Plan, format_runs
from assistant.scheduler.loop import Scheduler, SchedulerState
from assistant.scheduler.phrases import ParsedWhen, parse_when
from assistant.scheduler.runs import run_key
from assistant.scheduler.tables import DeliveryStatus, Job, JobKind, JobRun, JobState, MissedPolicy, TaskStatus
from assistant.scheduler.tool import ScheduleArgs, register_tools
from assistant.scheduler.triggers import Schedule, TriggerSpec

__all__ = [
    "DeliveryStatus",
    "Job",
    "JobBook",
    "JobHost",
    "JobKind",
    "JobRun",
    "JobState",
    "JobView",
    "MissedPolicy",
    "ParsedWhen",
    "Plan",
    "Schedule",
    "ScheduleArgs",
    "Scheduler",
    "SchedulerState",
    "TaskStatus",
    "TriggerSpec",
    "format_runs",
    "parse_when",
    "register_commands",
    "register_tools",
    "run_key",
]
