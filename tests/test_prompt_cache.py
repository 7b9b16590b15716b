"""Prompt caching: each request starts with the whole previous one of the session, byte for byte, and a new session
starts with the same system prompt and tools, whatever the member's profile learned meanwhile."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from assistant.context import ContextBuilder, member_words
from assistant.daemon import App
from assistant.messages import ChatKind, MemberScope
from channels.console import ConsoleChannel
from tests.conftest import local_model
from tests.standins.model_server import ScriptedModelServer

REPLY_TIMEOUT = 30.0


def _prompt(body: dict[str, Any]) -> str:
    """Tools, then the messages, serialized as sent: what a provider's prefix cache compares."""
    return "\n".join([json.dumps(body.get("tools"), ensure_ascii=False),
                      *(json.dumps(m, ensure_ascii=False) for m in body["messages"])])


def _turns(server: ScriptedModelServer) -> list[dict[str, Any]]:
    """The requests that answered members (a turn offers tools; memory's own model calls do not)."""
    return [r.body for r in server.requests if r.body.get("tools")]


async def test_each_turn_extends_the_last_and_a_new_session_keeps_the_prefix(
        make_config: Any, model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server)}, memory={"enabled": True})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
        for chat, text in (("console:you#s1", "Hi, I am Ana and I look after the release train."),
                           ("console:you#s1", "What do I look after?"),
                           ("console:you#s1", "/profile set role release manager"),
                           ("console:you#s1", "Thanks, noted."),
                           ("console:you#s2", "Good morning, anything due today?")):
            await console.wait_reply(await console.say("you", text, chat=chat), REPLY_TIMEOUT)
    first, second, third, other = _turns(model_server)
    assert _prompt(second).startswith(_prompt(first)) and len(_prompt(second)) > len(_prompt(first))
    assert _prompt(third).startswith(_prompt(second))  # also after the profile changed in between
    # The history holds the message exactly as it was sent, memory block and all.
    assert second["messages"][1] == first["messages"][-1]
    assert "<memory>" in second["messages"][-1]["content"] and "release train" in second["messages"][-1]["content"]
    assert "role: release manager" in third["messages"][-1]["content"]
    assert "release manager" not in third["messages"][0]["content"]  # learned facts never enter the system prompt
    assert other["tools"] == first["tools"] and other["messages"][0] == first["messages"][0]
    assert len(other["messages"]) == 2  # a new session: system prompt and the new message


async def test_group_turns_extend_the_last_while_others_talk_in_between(
        make_config: Any, model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server)}, memory={"enabled": True})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
        await console.wait_reply(await console.say("alice", "@bot when is the release?", chat="g1", group=True),
                                 REPLY_TIMEOUT)
        await console.say("bob", "I moved the freeze to Thursday", chat="g1", group=True)
        await console.wait_reply(await console.say("alice", "@bot and the freeze?", chat="g1", group=True),
                                 REPLY_TIMEOUT)
    first, second = _turns(model_server)
    assert _prompt(second).startswith(_prompt(first))
    assert "freeze to Thursday" in second["messages"][-1]["content"]  # the transcript rides with the new message
    assert "freeze to Thursday" not in _prompt(first)


def test_member_words_are_the_stamped_line_without_the_blocks_sent_with_it() -> None:
    scope = MemberScope(member_id=1, member_name="Ana", channel="console", chat_id="g1", chat_kind=ChatKind.GROUP)
    when = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    text = "first line\n\n[not a stamp] second paragraph"
    sent = ContextBuilder.user_message(scope, text, when, memory="- Ana runs the release", transcript="bob: hi",
                                       profile="Profile of Ana: name: Ana; language: en")
    plain = ContextBuilder.user_message(scope, text, when)
    assert sent.content != plain.content
    assert member_words(sent.content) == plain.content == member_words(plain.content)
    assert plain.content.startswith("[Mon 2026-03-02 09:30 UTC] Ana: first line")
