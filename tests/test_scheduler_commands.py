"""Scheduling by command (no model at all) and by the model's ``schedule`` tool call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from assistant.commands import CommandContext, CommandRegistry, parse_command
from assistant.config import Config, SchedulerConfig
from assistant.daemon import App
from assistant.messages import ChatKind, Inbound, MemberScope
from assistant.scheduler import Job, JobKind, Scheduler, register_commands, register_tools
from assistant.services import Services
from assistant.storage.db import Database
from assistant.tools import ToolContext, ToolRegistry
from channels.console import ConsoleChannel
from tests.conftest import local_model
from tests.standins.manual_clock import ManualClock
from tests.standins.model_server import ScriptedModelServer
from tests.standins.scheduler_world import Host, add_member, open_db, scope

NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # Monday 12:00 in Berlin


@dataclass
class Team:
    db: Database
    clock: ManualClock
    scheduler: Scheduler
    services: Services
    commands: CommandRegistry
    tools: ToolRegistry
    host: Host
    alice: MemberScope
    bob: MemberScope
    admin: MemberScope

    async def say(self, who: MemberScope, text: str) -> str:
        parsed = parse_command(text)
        assert parsed is not None
        inbound = Inbound(channel=who.channel, chat_id=who.chat_id, chat_kind=who.chat_kind,
                          sender_id=f"u_{who.member_name.lower()}", sender_name=who.member_name, text=text,
                          platform_message_id=f"m{text}")
        return await self.commands.run(parsed[0], parsed[1], CommandContext(who, self.services, inbound))

    async def tool(self, who: MemberScope, **arguments: Any) -> tuple[str, bool]:
        ctx = ToolContext(scope=who, services=self.services, allowed_tools=frozenset({"schedule"}))
        result = await self.tools.call("schedule", json.dumps(arguments), ctx)
        return result.content, result.error

    async def jobs(self) -> list[Job]:
        async with self.db.session() as s:
            return list((await s.execute(select(Job).order_by(Job.id))).scalars())


@pytest.fixture
async def team(tmp_path: Path) -> AsyncIterator[Team]:
    db = await open_db(tmp_path)
    clock = ManualClock(NOW)
    host = Host(db, clock)
    config = SchedulerConfig(max_jobs_per_member=3)
    scheduler = Scheduler(db, clock, config, host)
    await scheduler.start()
    tools = ToolRegistry()
    register_tools(tools)
    commands = CommandRegistry()
    register_commands(commands)
    services = Services(config=Config(), db=db, router=None, tools=tools, clock=clock)  # type: ignore[arg-type]
    services.scheduler = scheduler
    ids = [await add_member(db, name, timezone="Europe/Berlin") for name in ("Alice", "Bob", "Carol")]
    yield Team(db, clock, scheduler, services, commands, tools, host,
               scope(ids[0], "Alice", timezone="Europe/Berlin"), scope(ids[1], "Bob", timezone="Europe/Berlin"),
               scope(ids[2], "Carol", timezone="Europe/Berlin", is_admin=True))
    await scheduler.aclose()
    await db.aclose()


async def test_remind_in_a_group_belongs_to_the_member_and_is_delivered_to_the_group(team: Team) -> None:
    answer = await team.say(team.alice, "/remind in 20 minutes to call Bob")
    assert answer == ("OK, job #1: once, Mon 2026-06-01 12:20 — “call Bob”\n"
                      "next: Mon 2026-06-01 12:20 (Europe/Berlin)\n(/cancel 1 to cancel)")
    [job] = await team.jobs()
    assert (job.member_id, job.group_key, job.chat_id, job.kind) == (team.alice.member_id, "telegram:g1", "g1",
                                                                     "reminder")
    await team.clock.advance(timedelta(minutes=20))
    [reply] = team.host.delivered
    assert (reply.chat_id, reply.text, reply.mention_user_ids) == ("g1", "⏰ call Bob", ("u_alice",))


async def test_every_echoes_the_next_three_runs(team: Team) -> None:
    answer = await team.say(team.alice, "/every weekday at 9:30 post stand-up notes")
    assert "every weekday at 09:30 — “post stand-up notes”" in answer
    assert "next: Tue 2026-06-02 09:30, Wed 2026-06-03 09:30, Thu 2026-06-04 09:30 (Europe/Berlin)" in answer
    answer = await team.say(team.alice, "/every Friday 17:00 summarise the week")
    assert "every Friday at 17:00" in answer
    answer = await team.say(team.alice, "/every 工作日9:30 提交站会笔记")
    assert "每个工作日 09:30" in answer and "接下来：" in answer


async def test_remind_splits_when_from_what(team: Team) -> None:
    await team.say(team.alice, "/remind tomorrow 9:00 standup")
    [job] = await team.jobs()
    assert job.payload == "standup"
    assert job.next_run_at == datetime(2026, 6, 2, 7, 0, tzinfo=UTC)


async def test_commands_refuse_what_they_cannot_do_safely(team: Team) -> None:
    assert "could mean 05:00 or 17:00" in await team.say(team.alice, "/remind at 5 call mum")
    assert "is in the past" in await team.say(team.alice, "/remind at 9:00 standup")
    assert "one-time schedule; use /remind" in await team.say(team.alice, "/every tomorrow at 9 x")
    assert "Usage: /remind" in await team.say(team.alice, "/remind")
    assert "say what the job should do" in await team.say(team.alice, "/remind in 5 minutes")
    assert await team.jobs() == []


async def test_per_member_cap_on_jobs(team: Team) -> None:
    for n in range(3):
        assert "OK, job" in await team.say(team.alice, f"/remind in {n + 1} hours item {n}")
    assert "you have 3 scheduled jobs, the most allowed" in await team.say(team.alice, "/remind in 5 hours x")
    assert "OK, job" in await team.say(team.bob, "/remind in 5 hours x")


async def test_members_manage_their_own_jobs_admins_also_group_jobs(team: Team) -> None:
    await team.say(team.alice, "/every day at 9:00 water the plants")
    direct = scope(team.alice.member_id, "Alice", chat_id="dm_alice", group=False, timezone="Europe/Berlin")
    await team.say(direct, "/remind tomorrow at 10 private thing")

    assert await team.say(team.bob, "/cancel 1") == (
        "Not allowed: job #1 belongs to Alice; only admins manage others' group jobs")
    assert await team.say(team.admin, "/cancel 2") == "Not allowed: job #2 belongs to Alice"
    assert "Paused job #1" in await team.say(team.admin, "/pause 1")
    listing = await team.say(team.bob, "/jobs")
    assert listing.startswith("#1 [paused] every day at 09:00: “water the plants” (by Alice)")
    assert "private thing" not in listing  # a direct-chat job is not shown in the group
    assert "Resumed job #1" in await team.say(team.alice, "/resume 1")
    assert "Cancelled job #1" in await team.say(team.alice, "/cancel #1")
    assert "there is no active job #1" in await team.say(team.alice, "/cancel 1")
    assert [j.state for j in await team.jobs()] == ["cancelled", "active"]


async def test_schedule_tool_creates_validates_and_echoes(team: Team) -> None:
    content, error = await team.tool(team.alice, action="create", when="every weekday at 9:30",
                                     what="summarise yesterday's merged pull requests", kind="agent")
    assert not error
    assert content == ("created job #1 (agent): every weekday at 09:30; next: Tue 2026-06-02 09:30, "
                       "Wed 2026-06-03 09:30, Thu 2026-06-04 09:30 (Europe/Berlin)")
    [job] = await team.jobs()
    assert (job.kind, job.owner_platform_id) == (JobKind.AGENT, "u_alice")

    content, error = await team.tool(team.alice, action="create", when="at 5", what="call mum")
    assert error and "could mean 05:00 or 17:00" in content
    content, error = await team.tool(team.alice, action="create", when="tomorrow at 9 or so", what="x")
    assert error and "but not 'or so'" in content
    content, _ = await team.tool(team.alice, action="list")
    assert content.startswith("#1 [agent] every weekday at 09:30")
    content, error = await team.tool(team.bob, action="cancel", job_id=1)
    assert error and "only admins" in content
    content, error = await team.tool(team.alice, action="pause", job_id=1)
    assert (content, error) == ("job #1 is now paused", False)


async def test_natural_language_scheduling_through_the_model_tool_call(
        make_config: Any, model_server: ScriptedModelServer, tmp_path: Path) -> None:
    config = make_config(models={"standin": local_model(model_server)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        host = Host(app.services.db, app.clock)
        scheduler = Scheduler(app.services.db, app.clock, config.scheduler.model_copy(update={"enabled": True}), host)
        await scheduler.start()
        app.services.scheduler = scheduler
        try:
            model_server.enqueue_tool_call("schedule", {"action": "create", "when": "every weekday at 9:30",
                                                        "what": "post your stand-up notes"})
            model_server.enqueue_text("Done: I'll remind you every weekday at 9:30.")
            # A question is left to the model (plain-word commands are done without one: test_intents_console).
            mid = await console.say("you", "could you remind me every weekday at 9:30 to post stand-up notes?",
                                    chat="c1")
            reply = await console.wait_reply(mid, 20.0)
            assert reply.text == "Done: I'll remind you every weekday at 9:30."

            # The model got the validated schedule back, with the next three runs to tell the member.
            tool_messages = [m for m in model_server.requests[1].body["messages"] if m["role"] == "tool"]
            assert tool_messages[0]["content"].startswith("created job #1 (reminder): every weekday at 09:30; next: ")
            assert tool_messages[0]["content"].count(" 09:30") == 4
            async with app.services.db.session() as s:
                [job] = (await s.execute(select(Job))).scalars().all()
            assert (job.payload, job.trigger_spec["day_of_week"]) == ("post your stand-up notes", "mon-fri")

            # The same thing without any model: a command.
            before = len(model_server.requests)
            mid = await console.say("you", "/remind in 20 minutes call Bob", chat="c1")
            assert (await console.wait_reply(mid, 20.0)).text.startswith("OK, job #2: once")
            assert len(model_server.requests) == before
        finally:
            await scheduler.aclose()


def test_parse_command_is_what_dispatch_uses() -> None:
    assert parse_command("/remind@teambot in 20m call Bob", "teambot") == ("remind", "in 20m call Bob")
    assert ChatKind.GROUP.value == "group"


def test_public_names_are_exported() -> None:
    import assistant.heartbeat as heartbeat
    import assistant.scheduler as scheduler

    for module in (scheduler, heartbeat):
        assert sorted(module.__all__) == sorted(n for n in module.__all__ if hasattr(module, n))
        assert len(set(module.__all__)) == len(module.__all__)
