"""Group chats on Telegram end to end: the daemon builds its Telegram channel from the config and talks, through
python-telegram-bot, to the stand-in Bot API; every turn's model request is checked for what it contained."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.standins.group_world import (
    Gate,
    GroupTelegram,
    Turn,
    group_config,
    named_responder,
    start_app,
    telegram_section,
    turn_requests,
)
from tests.standins.model_server import ScriptedModelServer

TEAM = -1001000000001
ALICE, BOB, CAROL, DAVE = 1001, 1002, 1003, 1004
OWNER = 9001


@pytest.fixture
def tg() -> Iterator[GroupTelegram]:
    with GroupTelegram() as fake:
        yield fake


def _team_config(tmp_path: Path, tg: GroupTelegram, model: ScriptedModelServer, **extra: object):  # type: ignore[no-untyped-def]
    return group_config(tmp_path / "home", model, telegram=telegram_section(tg), allowed_chats=[f"telegram:{TEAM}"],
                        owners=[f"telegram:{OWNER}"], **extra)  # type: ignore[arg-type]


async def test_three_members_at_once_each_get_their_own_answer_and_context(
        tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer) -> None:
    topic = tg.create_topic(TEAM, "Release")
    gate = Gate(3)
    # Round one is held until all three turns are at the model at once: members run in parallel.
    model_server.responder = named_responder(extra=lambda turn: None if gate.wait() else "not in parallel")
    members = {"Alice": (ALICE, "apricot"), "Bob": (BOB, "bamboo"), "Carol": (CAROL, "cobalt")}
    async with start_app(_team_config(tmp_path, tg, model_server)):
        tg.say(TEAM, DAVE, "Dave", "lunch at noon anyone?", to_bot=False, thread_id=topic)
        first = {name: tg.say(TEAM, uid, name, f"my word is {word}", thread_id=topic)
                 for name, (uid, word) in members.items()}
        for name, asked in first.items():
            reply = await tg.wait_for_reply(TEAM, asked)
            assert reply.text.endswith(f"Noted, {name}.")
        model_server.responder = named_responder()
        second = {name: tg.say(TEAM, uid, name, "what did I tell you?", thread_id=topic)
                  for name, (uid, _) in members.items()}
        replies = {name: await tg.wait_for_reply(TEAM, asked) for name, asked in second.items()}

    for name, reply in replies.items():
        uid = members[name][0]
        assert reply.message_thread_id == topic
        assert reply.text.startswith(name) and f"tg://user?id={uid}" in reply.raw_text
        assert reply.text.endswith(f"Noted, {name}.")
    asks = {t.speaker: t for t in turn_requests(model_server) if "what did I tell you?" in t.new_message}
    assert set(asks) == set(members)
    for name, turn in asks.items():
        own = members[name][1]
        others = [word for other, (_, word) in members.items() if other != name]
        assert own in turn.history_text
        assert not any(word in turn.history_text for word in others), f"{name}'s history holds another's words"
        # Group awareness: who said what recently, addressed to the bot or not.
        transcript = turn.new_message.split("</group-transcript>")[0]
        assert "Dave: lunch at noon anyone?" in transcript
        assert all(f"{other}: my word is {word}" in transcript for other, (_, word) in members.items())
    assert len(tg.sent) == 6
