"""The ``schedule`` model tool: the model turns "every weekday at 9:30" into ``when``; code validates and echoes.

The tool never trusts the model with time math: ``when`` goes through the same phrase reader as the commands, and
the answer carries the next three run times (or the question to ask the member when the time is ambiguous).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select

from assistant.errors import PermissionDenied, ScheduleError, ToolError
from assistant.scheduler.commands import job_line
from assistant.scheduler.loop import Scheduler
from assistant.scheduler.tables import JobKind, JobState, MissedPolicy
from assistant.storage.tables import Identity
from assistant.tools import Tool, ToolContext, ToolRegistry, ToolResult

__all__ = ["ScheduleArgs", "register_tools"]

DESCRIPTION = (
    "Create, list, cancel, pause or resume the member's reminders and scheduled tasks. `when` in plain words or "
    "cron, member's time zone: 'in 20 minutes', 'every weekday at 9:30', '每天早上9点', 'cron: 30 9 * * 1-5'. "
    "Tell the member the run times the result lists; if it asks a question, ask the member."
)


class ScheduleArgs(BaseModel):
    action: Literal["create", "list", "cancel", "pause", "resume"]
    when: str | None = None
    what: str | None = Field(default=None, description="The reminder text, or the request to carry out then")
    kind: Literal["reminder", "agent"] = Field(default="reminder", description="'agent': run `what` as a request")
    job_id: int | None = Field(default=None, description="From list")
    if_missed: Literal["run_once", "skip"] | None = Field(default=None, description="If offline at run time")


async def _owner_platform_id(ctx: ToolContext) -> str:
    async with ctx.services.db.session() as s:
        row = (await s.execute(select(Identity.platform_user_id).where(
            Identity.member_id == ctx.scope.member_id, Identity.channel == ctx.scope.channel).limit(1))).first()
    return row[0] if row else ""


async def _schedule(args: ScheduleArgs, ctx: ToolContext) -> ToolResult:
    scheduler = ctx.services.scheduler
    if not isinstance(scheduler, Scheduler):
        raise ToolError("scheduling is turned off on this installation (scheduler.enabled = false)")
    scope = ctx.scope
    if args.action == "list":
        jobs = await scheduler.jobs.visible(scope)
        return ToolResult("\n".join(job_line(j, scope.member_id) for j in jobs) or "no scheduled jobs")
    if args.action == "create":
        if not args.when or not args.what:
            raise ToolError("create needs both `when` and `what`")
        try:
            plan = scheduler.plan(args.when, timezone=scope.timezone, whole=True)
            job = await scheduler.create(
                scope, plan, what=args.what, kind=JobKind(args.kind), owner_platform_id=await _owner_platform_id(ctx),
                missed_policy=MissedPolicy(args.if_missed) if args.if_missed else None)
        except ScheduleError as exc:
            return ToolResult(f"not created: {exc}", error=True)
        return ToolResult(f"created job #{job.id} ({job.kind.value}): {plan.description}; {plan.echo()}")
    if args.job_id is None:
        raise ToolError(f"{args.action} needs `job_id` (use action 'list' to see the ids)")
    try:
        job = await scheduler.change(scope, args.job_id, args.action)
    except (ScheduleError, PermissionDenied) as exc:
        return ToolResult(f"not changed: {exc}", error=True)
    if job.state is JobState.DONE:
        return ToolResult(f"job #{job.id} was due while paused and has no later run; it is closed")
    return ToolResult(f"job #{job.id} is now {job.state.value}")


def register_tools(registry: ToolRegistry) -> None:
    registry.register(Tool(name="schedule", description=DESCRIPTION, args=ScheduleArgs, func=_schedule,
                           timeout_s=30.0, group_safe=True))
