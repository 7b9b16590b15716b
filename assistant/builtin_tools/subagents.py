"""``spawn_subagents``: several sub-agents at once, each with a fresh context, its own task and a tool subset.

Each sub-agent is one call of ``services.agents.run_subagent(scope, task, tools, depth)`` (a fresh-context turn that
returns its answer). Limits: ``tools.subagents_max`` tasks per call, ``tools.subagents_max_depth`` nesting,
``tools.subagents_timeout_s`` for the whole batch, and ``tools.subagents_max_cost`` (model spend of this member
recorded in ``model_calls`` since the batch started, checked as each sub-agent finishes; the rest are stopped when
it is exceeded). A sub-agent's tools are what it asked for intersected with what its caller may use.

Progress: where the chat's channel can edit messages, one message is posted at the start and edited as each
sub-agent finishes; otherwise one progress message is queued when all are done.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from assistant.config import ToolsConfig
from assistant.errors import TeamclawError, ToolError
from assistant.messages import Reply, utcnow
from assistant.storage.tables import ModelCall
from assistant.tools import Tool, ToolContext, ToolResult
from channels.base import EditsMessages

__all__ = ["SPAWN_TOOL", "subagents_tool"]

log = logging.getLogger(__name__)

SPAWN_TOOL = "spawn_subagents"
_RESULT_CHARS = 12_000
_LABEL_CHARS = 48
_MARKS = {"running": "…", "done": "✓", "failed": "✗", "timed out": "⏱", "stopped": "■"}


class SubagentTask(BaseModel):
    task: str = Field(min_length=1, max_length=4_000)
    tools: list[str] = Field(default_factory=list, description="Tool names it may use, a subset of yours")


class SpawnArgs(BaseModel):
    tasks: list[SubagentTask] = Field(min_length=1)


@dataclass
class _Outcome:
    task: str
    tools: frozenset[str]
    status: str = "running"
    answer: str = ""


def _label(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _LABEL_CHARS else flat[:_LABEL_CHARS - 1] + "…"


def _board(outcomes: list[_Outcome]) -> str:
    done = sum(o.status != "running" for o in outcomes)
    lines = [f"Sub-agents: {done}/{len(outcomes)} finished"]
    lines += [f"{_MARKS.get(o.status, '?')} {i}. {_label(o.task)} ({o.status})" for i, o in
              enumerate(outcomes, start=1)]
    return "\n".join(lines)


class _Progress:
    """One chat message showing the batch; every failure here is logged and ignored (progress is optional)."""

    def __init__(self, ctx: ToolContext, channels: Mapping[str, Any] | None) -> None:
        self._ctx = ctx
        channel = (channels or {}).get(ctx.scope.channel)
        self._channel = channel if isinstance(channel, EditsMessages) else None
        self._message_id: str | None = None
        self._shown = ""
        self._lock = asyncio.Lock()

    def _reply(self, text: str, suffix: str) -> Reply:
        scope = self._ctx.scope
        seed = f"{scope.session_key}|{self._ctx.inbound_message_id}|subagents|{suffix}|{utcnow().isoformat()}"
        return Reply(channel=scope.channel, chat_id=scope.chat_id, text=text, thread_id=scope.thread_id,
                     idempotency_key="prog-" + hashlib.sha256(seed.encode()).hexdigest()[:40])

    async def start(self, outcomes: list[_Outcome]) -> None:
        if self._channel is None:
            return
        try:
            sent = await self._channel.send(self._reply(_board(outcomes), "start"))  # type: ignore[attr-defined]
            self._message_id = sent.platform_message_ids[0] if sent.platform_message_ids else None
        except TeamclawError:
            log.warning("sub-agent progress message could not be sent", exc_info=True)

    async def update(self, outcomes: list[_Outcome]) -> None:
        if self._channel is None or self._message_id is None:
            return
        text = _board(outcomes)
        async with self._lock:
            if text == self._shown:
                return
            self._shown = text
            try:
                await self._channel.edit(self._ctx.scope.chat_id, self._message_id, text)
            except TeamclawError:
                log.warning("sub-agent progress message could not be edited", exc_info=True)

    async def finish(self, outcomes: list[_Outcome]) -> None:
        if self._message_id is not None:
            await self.update(outcomes)
            return
        outbox = self._ctx.services.outbox
        if outbox is None:
            return
        try:
            await outbox.enqueue(self._reply(_board(outcomes), "end"), self._ctx.scope.member_id,
                                 self._ctx.inbound_message_id)
        except TeamclawError:
            log.warning("sub-agent progress message could not be queued", exc_info=True)


async def _spent_since(ctx: ToolContext, since: datetime) -> float:
    async with ctx.services.db.session() as session:
        query = select(func.coalesce(func.sum(ModelCall.cost), 0.0)).where(
            ModelCall.member_id == ctx.scope.member_id, ModelCall.created_at >= since)
        return float((await session.execute(query)).scalar_one())


def _tool_subset(requested: list[str], ctx: ToolContext, child_depth: int, max_depth: int) -> frozenset[str]:
    granted = set(requested) & set(ctx.allowed_tools)
    if child_depth >= max_depth:
        granted.discard(SPAWN_TOOL)
    return frozenset(granted)


async def _run_one(ctx: ToolContext, outcome: _Outcome, child_depth: int, deadline: float) -> None:
    agents = ctx.services.agents
    try:
        async with asyncio.timeout_at(deadline):
            outcome.answer = await agents.run_subagent(ctx.scope, outcome.task, outcome.tools, child_depth)
        outcome.status = "done"
    except TimeoutError:
        outcome.status = "timed out"
    except TeamclawError as exc:
        outcome.status, outcome.answer = "failed", str(exc)
    except Exception:  # one sub-agent's crash must not take the batch (or the turn) down
        log.exception("sub-agent failed")
        outcome.status, outcome.answer = "failed", "it failed unexpectedly; the failure was logged"


def _summary(outcomes: list[_Outcome], dropped: dict[int, list[str]], spent: float) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "failed", "timed out", "stopped")}
    head = f"{len(outcomes)} sub-agents ran in parallel: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    if spent:
        head += f" (model cost {spent:.4f})"
    share = max(500, _RESULT_CHARS // len(outcomes))
    parts = [head, "Compare the answers below; where they disagree, say so."]
    for number, outcome in enumerate(outcomes, start=1):
        answer = outcome.answer if len(outcome.answer) <= share else outcome.answer[:share] + " [... cut]"
        tools = ", ".join(sorted(outcome.tools)) or "none"
        note = f"; not permitted: {', '.join(dropped[number])}" if number in dropped else ""
        parts.append(f"## {number}. {_label(outcome.task)}\nstatus: {outcome.status}; tools: {tools}{note}\n"
                     f"{answer or '(no answer)'}")
    return "\n\n".join(parts)


def subagents_tool(config: ToolsConfig, channels: Mapping[str, Any] | None = None) -> Tool:
    async def spawn(args: SpawnArgs, ctx: ToolContext) -> ToolResult:
        cfg: ToolsConfig = ctx.services.config.tools
        if ctx.services.agents is None:
            raise ToolError("sub-agents are not available on this assistant")
        if ctx.depth >= cfg.subagents_max_depth:
            raise ToolError(f"sub-agents may not start more sub-agents (depth limit {cfg.subagents_max_depth})")
        if len(args.tasks) > cfg.subagents_max:
            raise ToolError(f"{len(args.tasks)} tasks asked for; at most {cfg.subagents_max} sub-agents at once")
        child_depth = ctx.depth + 1
        outcomes, dropped = [], {}
        for number, item in enumerate(args.tasks, start=1):
            tools = _tool_subset(item.tools, ctx, child_depth, cfg.subagents_max_depth)
            refused = sorted(set(item.tools) - tools)
            if refused:
                dropped[number] = refused
            outcomes.append(_Outcome(item.task, tools))
        started = utcnow()
        progress = _Progress(ctx, channels)
        await progress.start(outcomes)
        deadline = asyncio.get_running_loop().time() + cfg.subagents_timeout_s
        running = {asyncio.create_task(_run_one(ctx, o, child_depth, deadline), name=f"subagent-{i}"): o
                   for i, o in enumerate(outcomes, start=1)}
        try:
            pending = set(running)
            while pending:
                finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    task.result()  # _run_one handles its own errors; this surfaces a bug loudly
                await progress.update(outcomes)
                if pending and cfg.subagents_max_cost and await _spent_since(ctx, started) > cfg.subagents_max_cost:
                    # A sub-agent that finished while the spend was read keeps its answer.
                    for task in (t for t in pending if not t.done()):
                        task.cancel()
                        running[task].status = "stopped"
                        running[task].answer = f"stopped: the batch passed its cost limit {cfg.subagents_max_cost}"
                    await asyncio.wait(pending)
                    pending = set()
        finally:
            leftovers = [task for task in running if not task.done()]
            for task in leftovers:
                task.cancel()
            if leftovers:  # on our own cancellation too: no sub-agent outlives the tool call
                await asyncio.wait(leftovers)
        await progress.finish(outcomes)
        spent = await _spent_since(ctx, started)
        return ToolResult(_summary(outcomes, dropped, spent), private=ctx.scope.private)

    return Tool(
        SPAWN_TOOL,
        "Run independent sub-tasks in parallel, each by a fresh sub-agent with the tools you list; returns "
        "every answer.",
        SpawnArgs, spawn, timeout_s=config.subagents_timeout_s + 30.0,
    )
