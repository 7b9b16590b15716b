"""Scheduling slash commands that need no model: /remind, /every, /jobs, /cancel, /pause, /resume."""

from __future__ import annotations

import re

from assistant.commands import Command, CommandContext, CommandRegistry
from assistant.errors import PermissionDenied, ScheduleError
from assistant.scheduler.jobs import JobView, Plan, format_runs
from assistant.scheduler.loop import Scheduler
from assistant.scheduler.phrases import detect_lang
from assistant.scheduler.tables import JobKind, JobState

__all__ = ["register_commands"]

_RECURRING_START = re.compile(
    r"^\s*(?:every|each|daily|hourly|weekly|monthly|weekdays|weekends|workdays|on\s|cron\s*[:：]"
    r"|每|天天|工作日|周一[至到])", re.I)
_JOB_ID = re.compile(r"^\s*#?(\d+)\s*$")


def _scheduler(ctx: CommandContext) -> Scheduler | None:
    scheduler = ctx.services.scheduler
    return scheduler if isinstance(scheduler, Scheduler) else None


def _off(lang: str) -> str:
    return "定时任务已关闭（scheduler.enabled = false）。" if lang == "zh" else \
        "Scheduling is turned off here (scheduler.enabled = false)."


def created_text(job: JobView, plan: Plan) -> str:
    if plan.lang == "zh":
        return f"好的，任务 #{job.id}：{plan.description} —— “{job.payload}”\n{plan.echo()}\n（/cancel {job.id} 取消）"
    return f"OK, job #{job.id}: {plan.description} — “{job.payload}”\n{plan.echo()}\n(/cancel {job.id} to cancel)"


async def _create(args: str, ctx: CommandContext, *, recurring: bool) -> str:
    lang = detect_lang(args)
    scheduler = _scheduler(ctx)
    if scheduler is None:
        return _off(lang)
    if not args.strip():
        return ("用法：/every <时间> <内容>，例如 /every 工作日9:30 提交站会笔记" if recurring else
                "用法：/remind <时间> <内容>，例如 /remind 20分钟后 给Bob打电话") if lang == "zh" else (
            "Usage: /every <schedule> <what>, e.g. /every weekday at 9:30 post stand-up notes" if recurring else
            "Usage: /remind <when> <what>, e.g. /remind in 20 minutes call Bob")
    try:
        plan = _plan(scheduler, args, ctx.scope.timezone, recurring=recurring, lang=lang)
        if recurring and not plan.trigger.recurring:
            raise ScheduleError("那是一次性的时间；一次性提醒请用 /remind" if lang == "zh" else
                                "that is a one-time schedule; use /remind for one-off reminders")
        job = await scheduler.create(ctx.scope, plan, what=plan.rest, kind=JobKind.REMINDER,
                                     owner_platform_id=ctx.inbound.sender_id)
    except ScheduleError as exc:
        return str(exc)
    return created_text(job, plan)


def _plan(scheduler: Scheduler, args: str, timezone: str, *, recurring: bool, lang: str) -> Plan:
    """For /every the leading "every"/"每" may be left out ("/every weekday at 9:30 ...")."""
    if not recurring or _RECURRING_START.match(args):
        return scheduler.plan(args, timezone=timezone)
    try:
        return scheduler.plan(("每" if lang == "zh" else "every ") + args.lstrip(), timezone=timezone)
    except ScheduleError as first:
        try:
            return scheduler.plan(args, timezone=timezone)  # a one-time schedule: refused by the caller
        except ScheduleError:
            raise first from None


async def _remind(args: str, ctx: CommandContext) -> str:
    return await _create(args, ctx, recurring=False)


async def _every(args: str, ctx: CommandContext) -> str:
    return await _create(args, ctx, recurring=True)


def job_line(job: JobView, member_id: int) -> str:
    state = "" if job.state is JobState.ACTIVE else f" [{job.state.value}]"
    owner = "" if job.member_id == member_id else f" (by {job.owner_name})"
    kind = " [agent]" if job.kind is JobKind.AGENT else ""
    nxt = ""
    if job.next_run_at and job.state is JobState.ACTIVE:
        nxt = " — " + format_runs([job.next_run_at], job.timezone, "en")
    return f"#{job.id}{state}{kind} {job.description}: “{job.payload[:80]}”{owner}{nxt}"


async def _jobs(args: str, ctx: CommandContext) -> str:
    scheduler = _scheduler(ctx)
    if scheduler is None:
        return _off("en")
    jobs = await scheduler.jobs.visible(ctx.scope)
    if not jobs:
        return "No scheduled jobs. Set one with /remind or /every."
    return "\n".join(job_line(job, ctx.scope.member_id) for job in jobs)


async def _change(args: str, ctx: CommandContext, action: str) -> str:
    scheduler = _scheduler(ctx)
    if scheduler is None:
        return _off("en")
    m = _JOB_ID.match(args)
    if not m:
        return f"Usage: /{action} <id> (see /jobs for the ids)"
    job_id = int(m.group(1))
    try:
        job = await scheduler.change(ctx.scope, job_id, action)
    except ScheduleError as exc:
        return str(exc)
    except PermissionDenied as exc:
        return f"Not allowed: {exc}"
    if action == "cancel":
        return f"Cancelled job #{job_id} ({job.description}: “{job.payload[:80]}”)."
    if action == "pause":
        return f"Paused job #{job_id}. /resume {job_id} starts it again."
    if job.state is JobState.DONE:
        return f"Job #{job_id} was due while it was paused and has no later run, so it is closed."
    runs = await scheduler.jobs.upcoming(job_id)
    return f"Resumed job #{job_id}: {job.description}\n{format_runs(runs, job.timezone)}"


async def _cancel(args: str, ctx: CommandContext) -> str:
    return await _change(args, ctx, "cancel")


async def _pause(args: str, ctx: CommandContext) -> str:
    return await _change(args, ctx, "pause")


async def _resume(args: str, ctx: CommandContext) -> str:
    return await _change(args, ctx, "resume")


def register_commands(registry: CommandRegistry) -> None:
    registry.register(Command("remind", "/remind <when> <what> — e.g. /remind in 20 minutes call Bob", _remind))
    registry.register(Command("every", "/every <schedule> <what> — e.g. /every weekday at 9:30 stand-up", _every))
    registry.register(Command("jobs", "/jobs — your scheduled jobs (and this group's)", _jobs))
    registry.register(Command("cancel", "/cancel <id> — cancel a scheduled job", _cancel))
    registry.register(Command("pause", "/pause <id> — pause a scheduled job", _pause))
    registry.register(Command("resume", "/resume <id> — resume a paused job", _resume))
