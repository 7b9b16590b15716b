"""A tool that raises, hangs or returns 10 MB does not break the call; permissions per member and chat kind;
send_message and send_file post only to the current chat."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

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


async def test_send_file_attaches_the_file_itself(make_config: Callable[..., Config]) -> None:
    config = make_config()
    async with open_world(config) as world:
        ws = member_workspace(config, member())
        (ws / "plan.md").write_text("1. ship it")
        (ws / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
        (ws / "empty.txt").write_bytes(b"")
        doc = await world.call(member(), "send_file", json.dumps({"path": "plan.md", "caption": "The plan"}))
        assert not doc.error and "as a file" in doc.content
        reply = world.outbox.queued[-1][0]
        assert reply.text == "The plan"
        assert [(Path(f.path).name, f.name, f.kind) for f in reply.files] == [("plan.md", "plan.md", "file")]
        picture = await world.call(member(), "send_file", json.dumps({"path": "chart.png"}))
        assert "as a picture" in picture.content and world.outbox.queued[-1][0].files[0].kind == "image"
        empty = await world.call(member(), "send_file", json.dumps({"path": "empty.txt"}))
        escape = await world.call(member(), "send_file", json.dumps({"path": "../2/x"}))
        assert empty.error and escape.error and len(world.outbox.queued) == 2
