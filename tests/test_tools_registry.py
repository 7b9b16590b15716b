"""A tool that raises, hangs or returns 10 MB does not break the call; permissions per member and chat kind;
send_message and send_file post only to the current chat."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from pydantic import BaseModel

import assistant.builtin_tools as builtin_tools
from assistant.builtin_tools import allowed_tools, member_workspace
from assistant.config import Config
from assistant.messages import ChatKind
from assistant.tools import Tool, ToolContext
from tests.standins.tool_world import ALICE, BOB, member, open_world


class _NoArgs(BaseModel):
    pass


async def _raises(args: _NoArgs, ctx: ToolContext) -> str:
    raise RuntimeError("secret internals /srv/x")


async def _hangs(args: _NoArgs, ctx: ToolContext) -> str:
    await asyncio.Event().wait()
    return "never"


async def _huge(args: _NoArgs, ctx: ToolContext) -> str:
    return "z" * 10_000_000


def test_public_names_are_exported() -> None:
    for name in builtin_tools.__all__:
        assert hasattr(builtin_tools, name), name


async def test_raising_hanging_and_huge_tools_return_readable_results(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config()) as world:
        for tool in (Tool("boom", "raises", _NoArgs, _raises), Tool("stuck", "hangs", _NoArgs, _hangs, timeout_s=0.2),
                     Tool("flood", "10 MB", _NoArgs, _huge)):
            world.registry.register(tool)
        allowed = frozenset({"boom", "stuck", "flood", "file_list"})
        boom = await world.call(member(), "boom", "{}", allowed=allowed)
        assert boom.error and "failed unexpectedly" in boom.content and "/srv/x" not in boom.content
        stuck = await world.call(member(), "stuck", "{}", allowed=allowed)
        assert stuck.error and "did not finish" in stuck.content
        flood = await world.call(member(), "flood", "{}", allowed=allowed)
        assert len(flood.content) < 20_000 and "more characters cut" in flood.content
        after = await world.call(member(), "file_list", "{}", allowed=allowed)
        assert not after.error  # the registry still works


async def test_permissions_by_role_and_chat_kind(make_config: Callable[..., Config]) -> None:
    config = make_config(tools={"shell_enabled": True, "shell_members": ["member:1"]})
    async with open_world(config) as world:
        names = set(world.registry.names())
        owner = allowed_tools(member(ALICE, admin=True, kind=ChatKind.GROUP), config, world.registry)
        assert owner == frozenset(names)
        group = allowed_tools(member(BOB, name="bob", kind=ChatKind.GROUP), config, world.registry)
        assert group == frozenset({"web_fetch", "web_search", "skill_read"})  # memory tools are not registered here
        direct = allowed_tools(member(BOB, name="bob"), config, world.registry)
        assert direct == group | {"file_read", "file_write", "file_list", "send_file", "skill_draft"}
        admin_not_listed = allowed_tools(member(BOB, name="bob", admin=True), config, world.registry)
        assert "shell" not in admin_not_listed and "spawn_subagents" in admin_not_listed
    custom = make_config(tools={"group_safe_tools": ["web_fetch"]})
    async with open_world(custom) as world:
        assert allowed_tools(member(BOB, kind=ChatKind.GROUP), custom, world.registry) == {"web_fetch"}


async def test_send_message_goes_to_the_current_chat_only(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config()) as world:
        scope = member(admin=True, chat_id="team-chat", channel="telegram", kind=ChatKind.GROUP)
        result = await world.call(scope, "send_message", json.dumps({"text": "halfway there", "chat_id": "other"}))
        assert not result.error, result.content
        reply, member_id, in_reply_to = world.outbox.queued[-1]
        assert (reply.channel, reply.chat_id, reply.text) == ("telegram", "team-chat", "halfway there")
        assert member_id == ALICE and in_reply_to == 7
        again = await world.call(scope, "send_message", json.dumps({"text": "halfway there"}))
        assert not again.error and world.outbox.queued[-1][0].idempotency_key == reply.idempotency_key


async def test_send_file_is_honest_about_attachments(make_config: Callable[..., Config]) -> None:
    config = make_config()
    async with open_world(config) as world:
        ws = member_workspace(config, member())
        (ws / "plan.md").write_text("1. ship it")
        (ws / "big.bin").write_bytes(b"\0" * 10_000)
        small = await world.call(member(), "send_file", json.dumps({"path": "plan.md", "caption": "The plan"}))
        assert "no attachment was sent" in small.content
        assert world.outbox.queued[-1][0].text == "The plan\nFile plan.md (10 bytes):\n1. ship it"
        big = await world.call(member(), "send_file", json.dumps({"path": "big.bin"}))
        assert "as a note naming it" in big.content
        assert "cannot receive attachments" in world.outbox.queued[-1][0].text
        escape = await world.call(member(), "send_file", json.dumps({"path": "../2/x"}))
        assert escape.error and len(world.outbox.queued) == 2
