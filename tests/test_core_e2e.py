"""The whole message path through the console channel: inbox -> dispatch -> agent -> router -> outbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select

from assistant.daemon import App
from assistant.inbox import Inbox
from assistant.messages import ChatKind, Inbound
from assistant.storage.tables import Message, ModelCall
from assistant.tools import Tool, ToolContext
from channels.console import ConsoleChannel
from tests.conftest import local_model, write_config
from tests.standins.model_server import ScriptedModelServer

REPLY_TIMEOUT = 20.0


class AddArgs(BaseModel):
    a: int
    b: int


async def _add(args: AddArgs, ctx: ToolContext) -> str:
    return str(args.a + args.b)


ADD_TOOL = Tool(name="add", description="Add two integers.", args=AddArgs, func=_add)


async def ask(console: ConsoleChannel, text: str, *, user: str = "you", chat: str = "c1") -> str:
    mid = await console.say(user, text, chat=chat)
    return (await console.wait_reply(mid, REPLY_TIMEOUT)).text


def messages_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body["messages"])


async def test_multi_turn_conversation_with_a_tool_call(make_config: Any, model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        app.services.tools.register(ADD_TOOL)
        model_server.enqueue_tool_call("add", {"a": 2, "b": 3})
        model_server.enqueue_text("2 + 3 = 5")
        assert await ask(console, "what is 2+3?") == "2 + 3 = 5"
        model_server.enqueue_text("You asked about 2+3.")
        assert await ask(console, "what did I ask?") == "You asked about 2+3."

    first, second, third = model_server.requests[:3]
    assert any(t["function"]["name"] == "add" for t in first.body["tools"])
    tool_msgs = [m for m in messages_of(second.body) if m["role"] == "tool"]
    assert tool_msgs and tool_msgs[0]["content"] == "5"
    third_text = json.dumps(messages_of(third.body), ensure_ascii=False)
    assert "what is 2+3?" in third_text and "2 + 3 = 5" in third_text
    # The system prompt and tool list are byte-identical from turn to turn (prompt caches hit).
    assert messages_of(first.body)[0] == messages_of(third.body)[0]
    assert first.body["tools"] == third.body["tools"]
    # The member's local date and time is on the new message, not in the system prompt.
    assert "UTC]" in messages_of(third.body)[-1]["content"]
    assert "UTC]" not in messages_of(third.body)[0]["content"]


async def test_malformed_tool_call_is_answered_with_the_parse_error(make_config: Any,
                                                                    model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        app.services.tools.register(ADD_TOOL)
        model_server.enqueue_tool_call("add", '{"a": 2, "b": ')
        model_server.enqueue_text("sorry, let me answer directly: 5")
        assert await ask(console, "2+3?") == "sorry, let me answer directly: 5"
    tool_msgs = [m for m in messages_of(model_server.requests[1].body) if m["role"] == "tool"]
    assert "malformed arguments" in tool_msgs[0]["content"]


async def test_a_failing_tool_goes_back_to_the_model(make_config: Any, model_server: ScriptedModelServer) -> None:
    async def explode(args: AddArgs, ctx: ToolContext) -> str:
        raise RuntimeError("disk on fire")

    config = make_config(models={"standin": local_model(model_server)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        app.services.tools.register(Tool(name="explode", description="fails", args=AddArgs, func=explode))
        model_server.enqueue_tool_call("explode", {"a": 1, "b": 1})
        model_server.enqueue_text("the tool failed")
        assert await ask(console, "try it") == "the tool failed"
    tool_msgs = [m for m in messages_of(model_server.requests[1].body) if m["role"] == "tool"]
    assert "failed unexpectedly" in tool_msgs[0]["content"]
    assert "disk on fire" not in tool_msgs[0]["content"]


async def test_provider_failover_to_the_next_model(make_config: Any, model_server: ScriptedModelServer,
                                                   cloud_server: ScriptedModelServer) -> None:
    backup = ScriptedModelServer().start()
    try:
        config = make_config(
            models={"primary": local_model(model_server, max_retries=0),
                    "backup": local_model(backup, model="standin-backup")},
            routing={"roles": {"chat": "primary"}, "fallbacks": {"chat": ["backup"]}},
        )
        console = ConsoleChannel()
        async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
            model_server.enqueue_fault(500)
            backup.enqueue_text("from the backup")
            assert await ask(console, "hello") == "from the backup"
            async with app.services.db.session() as s:
                calls = (await s.execute(select(ModelCall).order_by(ModelCall.id))).scalars().all()
        assert [(c.model, c.ok) for c in calls] == [("primary", False), ("backup", True)]
    finally:
        backup.stop()


async def test_rate_limit_is_retried_after_retry_after(make_config: Any, model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server, max_retries=2)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
        model_server.enqueue_fault(429, retry_after=0.05)
        model_server.enqueue_text("after the wait")
        assert await ask(console, "hi") == "after the wait"
    assert len(model_server.requests) == 2


async def test_no_model_reachable_tells_the_member(make_config: Any, model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server, max_retries=0)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
        model_server.enqueue_fault(500)
        model_server.enqueue_fault(500)
        model_server.enqueue_fault(500)
        reply = await ask(console, "hi")
    assert "cannot reach any model" in reply


async def test_restart_keeps_the_conversation(make_config: Any, model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
        model_server.enqueue_text("Nice to meet you, Zed.")
        await ask(console, "my name is Zed")
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
        model_server.enqueue_text("You are Zed.")
        assert await ask(console, "who am I?") == "You are Zed."
    last = json.dumps(model_server.requests[-1].body["messages"])
    assert "my name is Zed" in last and "Nice to meet you, Zed." in last


async def test_a_redelivered_message_is_answered_once(make_config: Any, model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        msg = Inbound(channel="console", chat_id="c1", chat_kind=ChatKind.DIRECT, sender_id="you",
                      sender_name="you", text="hello", platform_message_id="m-1", event_id="e-1")
        assert await app.deliver(msg) is True
        assert await app.deliver(msg) is False
        # Same message under a new event id (Feishu after a reconnect): still a duplicate.
        assert await app.deliver(Inbound(**{**_fields(msg), "event_id": "e-2"})) is False
        reply = await console.wait_reply("m-1", REPLY_TIMEOUT)
        assert reply.text == "ok"
        async with app.services.db.session() as s:
            outbound = (await s.execute(select(func.count()).select_from(Message)
                                        .where(Message.direction == "out"))).scalar_one()
    assert outbound == 1 and len(model_server.requests) == 1


def _fields(msg: Inbound) -> dict[str, Any]:
    return {name: getattr(msg, name) for name in msg.__dataclass_fields__}


async def test_a_message_stored_before_a_crash_is_answered_after_restart(
        make_config: Any, model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server)})
    # The process stored the message and died before dispatch: only the row exists.
    from assistant.storage.db import Database

    db = Database(config.database_url)
    await db.migrate()
    stored = await Inbox(db).accept(Inbound(channel="console", chat_id="c1", chat_kind=ChatKind.DIRECT,
                                            sender_id="you", sender_name="you", text="are you there?",
                                            platform_message_id="m-9"))
    await db.aclose()
    assert stored is not None
    console = ConsoleChannel()
    model_server.enqueue_text("yes, back again")
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        assert (await console.wait_reply("m-9", REPLY_TIMEOUT)).text == "yes, back again"
        async with app.services.db.session() as s:
            row = await s.get(Message, stored)
            assert row is not None and row.status == "answered"
    assert [r.text for r in console.sent] == ["yes, back again"]


def _cli(args: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TEAMCLAW_HOME": str(home), **env}, check=False)


def test_cli_chat_answers_one_message_and_continues_a_session(tmp_path: Path,
                                                              model_server: ScriptedModelServer) -> None:
    home = tmp_path / "home"
    cfg = write_config(home, {"models": {"standin": local_model(model_server)}})
    model_server.enqueue_text("hello from the model")
    first = _cli(["chat", "--config", str(cfg), "-m", "hi there", "--json"], home)
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert out["reply"] == "hello from the model"
    model_server.enqueue_text("you said hi there")
    second = _cli(["chat", "--config", str(cfg), "-m", "what did I say?", "--session", out["session"]], home)
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "you said hi there"
    assert "hi there" in json.dumps(model_server.requests[-1].body["messages"])
    # A new session without --session does not see the old conversation.
    _cli(["chat", "--config", str(cfg), "-m", "fresh"], home)
    assert "hi there" not in json.dumps(model_server.requests[-1].body["messages"])


def test_config_errors_name_the_key_and_stop(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    bad = home / "teamclaw.toml"
    bad.write_text('[team]\ntimezone = "Mars/Base"\n\n[agent]\nmax_stepz = 3\n', encoding="utf-8")
    result = _cli(["status", "--config", str(bad)], home)
    assert result.returncode == 2
    assert "team.timezone" in result.stderr and "Mars/Base" in result.stderr
    assert "agent.max_stepz" in result.stderr and "unknown key" in result.stderr


def test_version(tmp_path: Path) -> None:
    result = _cli(["--version"], tmp_path)
    assert result.returncode == 0 and result.stdout.startswith("teamclaw 0.")


async def test_saying_the_answer_was_wrong_escalates_to_a_stronger_model(
        make_config: Any, model_server: ScriptedModelServer) -> None:
    strong = ScriptedModelServer().start()
    try:
        config = make_config(models={"cheap": local_model(model_server, tier=1, price_input=0.1),
                                     "strong": local_model(strong, model="standin-strong", tier=2, price_input=5.0)})
        console = ConsoleChannel()
        async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
            model_server.enqueue_text("Paris is in Italy.")
            assert await ask(console, "where is Paris?") == "Paris is in Italy."
            strong.enqueue_text("Sorry: Paris is in France.")
            assert await ask(console, "that's wrong") == "Sorry: Paris is in France."
        assert len(model_server.requests) == 1 and len(strong.requests) == 1
    finally:
        strong.stop()


async def test_a_compacted_session_keeps_its_summary_in_the_context(make_config: Any,
                                                                    model_server: ScriptedModelServer) -> None:
    from sqlalchemy import update

    from assistant.storage.tables import Session

    config = make_config(models={"standin": local_model(model_server)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        await ask(console, "hello")
        async with app.services.db.session() as s:
            await s.execute(update(Session).values(summary="The member is planning the Q3 offsite."))
        await ask(console, "what was I planning?")
    messages = model_server.requests[-1].body["messages"]
    assert messages[1]["role"] == "system" and "Q3 offsite" in messages[1]["content"]


async def test_an_image_goes_to_a_model_that_can_see_or_the_reply_says_it_could_not(
        make_config: Any, model_server: ScriptedModelServer) -> None:
    from assistant.messages import Attachment

    seeing = ScriptedModelServer().start()
    try:
        photo = Attachment(kind="image", platform_file_id="f1", name="whiteboard.jpg")
        blind_only = make_config(models={"blind": local_model(model_server)})
        console = ConsoleChannel()
        async with App(blind_only, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
            model_server.enqueue_text("It is a photo of a whiteboard.")
            await app.deliver(Inbound(channel="console", chat_id="c1", chat_kind=ChatKind.DIRECT, sender_id="you",
                                      sender_name="you", text="what is on it?", platform_message_id="p1",
                                      attachments=(photo,)))
            reply = await console.wait_reply("p1", REPLY_TIMEOUT)
        assert reply.text.startswith("(None of the models I may use here can take images")
        assert "[attached image: whiteboard.jpg]" in json.dumps(model_server.requests[-1].body["messages"])

        both = make_config(models={"blind": local_model(model_server, price_input=0.1),
                                   "seeing": local_model(seeing, model="standin-vision", price_input=1.0,
                                                         abilities=["tools", "vision"])})
        console = ConsoleChannel()
        async with App(both, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
            seeing.enqueue_text("A whiteboard with the release plan.")
            await app.deliver(Inbound(channel="console", chat_id="c2", chat_kind=ChatKind.DIRECT, sender_id="you",
                                      sender_name="you", text="what is on it?", platform_message_id="p2",
                                      attachments=(photo,)))
            assert (await console.wait_reply("p2", REPLY_TIMEOUT)).text == "A whiteboard with the release plan."
    finally:
        seeing.stop()


async def test_an_unsure_answer_gets_a_second_opinion_one_tier_up(make_config: Any,
                                                                  model_server: ScriptedModelServer) -> None:
    strong = ScriptedModelServer().start()
    try:
        config = make_config(models={"cheap": local_model(model_server, tier=1, price_input=0.1),
                                     "strong": local_model(strong, model="standin-strong", tier=2, price_input=5.0)})
        console = ConsoleChannel()
        async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
            model_server.enqueue_text("I'm not sure, maybe 1998?")
            strong.enqueue_text("It was released in 1991.")
            assert await ask(console, "when was Linux first released?") == "It was released in 1991."
            # A confident answer is taken as it is.
            model_server.enqueue_text("Linus Torvalds.")
            assert await ask(console, "who wrote it?") == "Linus Torvalds."
        assert len(model_server.requests) == 2 and len(strong.requests) == 1
    finally:
        strong.stop()


def test_a_task_delegated_to_a_member_is_never_folded_with_their_own_messages() -> None:
    from assistant.dispatch import Dispatcher, _Item, _Lane
    from assistant.messages import MemberScope

    scope = MemberScope(1, "alice", "console", "g", ChatKind.GROUP)
    msg = Inbound(channel="console", chat_id="g", chat_kind=ChatKind.GROUP, sender_id="alice",
                  sender_name="alice", text="x", platform_message_id="m")
    own1, own2 = _Item(1, msg, scope), _Item(2, msg, scope)
    delegated = _Item(3, msg, scope, delegated_by="bob")
    lane = _Lane(items=[own1, own2, delegated, _Item(4, msg, scope)])
    assert Dispatcher._take_batch(lane) == [own1, own2]
    assert Dispatcher._take_batch(lane) == [delegated]
    assert [i.message_id for i in Dispatcher._take_batch(lane)] == [4] and lane.items == []
