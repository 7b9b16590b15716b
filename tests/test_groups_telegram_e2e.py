"""Group chats on Telegram end to end: the daemon builds its Telegram channel from the config and talks,
through python-telegram-bot, to the stand-in Bot API; each turn's model request is checked for what it
contained."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Config
from assistant.messages import ChatKind, MemberScope
from tests.standins.group_world import (
    Gate,
    GroupTelegram,
    count_rows,
    free_port,
    group_config,
    inbound_status,
    model_calls,
    named_responder,
    start_app,
    telegram_section,
    turn_requests,
)
from tests.standins.model_server import ScriptedModelServer
from tests.standins.telegram_server import BOT_USER_ID

TEAM = -1001000000001
OTHER_GROUP = -1002000000002
ALICE, BOB, CAROL, DAVE, ERIN = 1001, 1002, 1003, 1004, 1005
OWNER = 9001
TEXT_LIMIT = 4096


@pytest.fixture
def tg() -> Iterator[GroupTelegram]:
    with GroupTelegram() as fake:
        yield fake


def team_config(
    tmp_path: Path,
    tg: GroupTelegram,
    model: ScriptedModelServer,
    *,
    telegram: dict[str, Any] | None = None,
    **extra: Any,
) -> Config:
    return group_config(
        tmp_path / "home",
        model,
        telegram=telegram_section(tg, **(telegram or {})),
        allowed_chats=[f"telegram:{TEAM}"],
        owners=[f"telegram:{OWNER}"],
        **extra,
    )


async def test_three_members_at_once_each_get_their_own_answer_and_context(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    topic = tg.create_topic(TEAM, "Release")
    gate = Gate(3)
    # Round one is held until all three turns are at the model at once: members run in parallel.
    model_server.responder = named_responder(extra=lambda turn: None if gate.wait() else "not in parallel")
    members = {"Alice": (ALICE, "apricot"), "Bob": (BOB, "bamboo"), "Carol": (CAROL, "cobalt")}
    async with start_app(team_config(tmp_path, tg, model_server)):
        tg.say(TEAM, DAVE, "Dave", "lunch at noon anyone?", to_bot=False, thread_id=topic)
        first = {
            name: tg.say(TEAM, uid, name, f"my word is {word}", thread_id=topic)
            for name, (uid, word) in members.items()
        }
        for name, asked in first.items():
            assert (await tg.wait_for_reply(TEAM, asked)).text.endswith(f"Noted, {name}.")
        model_server.responder = named_responder()
        second = {
            name: tg.say(TEAM, uid, name, "what did I tell you?", thread_id=topic)
            for name, (uid, _) in members.items()
        }
        replies = {name: await tg.wait_for_reply(TEAM, asked) for name, asked in second.items()}

    for name, reply in replies.items():
        assert reply.message_thread_id == topic
        assert reply.text == f"{name}\nNoted, {name}."
        assert f"tg://user?id={members[name][0]}" in reply.raw_text
    asks = {t.speaker: t for t in turn_requests(model_server) if "what did I tell you?" in t.new_message}
    assert set(asks) == set(members)
    for name, turn in asks.items():
        others = [word for other, (_, word) in members.items() if other != name]
        assert members[name][1] in turn.history_text
        assert not any(word in turn.history_text for word in others), (
            f"{name}'s history holds another's words"
        )
        # Group awareness: who said what recently, whether it was said to the bot or not.
        transcript = turn.new_message.split("</group-transcript>")[0]
        assert "Dave: lunch at noon anyone?" in transcript
        assert all(f"{other}: my word is {word}" in transcript for other, (_, word) in members.items())
    assert len(tg.sent) == 6 and "Dave" not in {t.speaker for t in turn_requests(model_server)}


async def test_the_same_update_delivered_twice_is_answered_once(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    text, entities = tg.mention_bot("is the build green?")
    update = tg.message_update(TEAM, "supergroup", ALICE, "Alice", text, entities=entities, chat_title="Team")
    tg.push_raw(update)
    tg.push_raw(update)  # Telegram hands the same update out again (one getUpdates batch)
    port = free_port()
    webhook = {
        "mode": "webhook",
        "webhook_url": f"http://127.0.0.1:{port}/telegram",
        "webhook_port": port,
        "webhook_secret": "hook-secret-1",
    }
    config = team_config(tmp_path, tg, model_server)
    async with start_app(config) as app:
        asked = update["message"]["message_id"]
        await tg.wait_for_reply(TEAM, asked)
        later = tg.say(TEAM, ALICE, "Alice", "thanks")  # same member, same lane: answered after any duplicate
        await tg.wait_for_reply(TEAM, later)
        assert await count_rows(app, direction="in") == 2
    # Webhook mode: Telegram posts an update again when the first answer did not reach it.
    config = team_config(tmp_path, tg, model_server, telegram=webhook)
    async with start_app(config) as app:
        text, entities = tg.mention_bot("and the deploy?")
        again = tg.message_update(
            TEAM, "supergroup", ALICE, "Alice", text, entities=entities, chat_title="Team"
        )
        assert await tg.post_webhook(again) == 200
        assert await tg.post_webhook(again) == 200
        await tg.wait_for_reply(TEAM, again["message"]["message_id"])
        last = tg.message_update(
            TEAM,
            "supergroup",
            ALICE,
            "Alice",
            "ok",
            chat_title="Team",
            reply_to=tg.replies_to(TEAM, again["message"]["message_id"])[0].message_id,
        )
        assert await tg.post_webhook(last) == 200  # a reply to the bot addresses it
        await tg.wait_for_reply(TEAM, last["message"]["message_id"])
        assert await count_rows(app, direction="in") == 4
    per_message = Counter(s.reply_to_message_id for s in tg.sent)
    assert len(per_message) == 4 and set(per_message.values()) == {1}
    assert len(turn_requests(model_server)) == 4


async def test_a_webhook_post_without_the_secret_or_with_garbage_stores_nothing(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    port = free_port()
    webhook = {
        "mode": "webhook",
        "webhook_url": f"http://127.0.0.1:{port}/telegram",
        "webhook_port": port,
        "webhook_secret": "hook-secret-1",
    }
    async with start_app(team_config(tmp_path, tg, model_server, telegram=webhook)) as app:
        text, entities = tg.mention_bot("deploy to production now")
        update = tg.message_update(
            TEAM, "supergroup", ALICE, "Alice", text, entities=entities, chat_title="Team"
        )
        assert await tg.post_webhook(update, secret_token="guessed-secret") == 403
        assert await tg.post_webhook(update, use_registered_secret=False) == 403
        assert await tg.post_webhook(b"{not json") == 400
        assert await tg.post_webhook(b'{"update_id": "x", "message": 7}') == 400
        assert await count_rows(app) == 0
        assert await tg.post_webhook(update) == 200  # the genuine post goes through
        await tg.wait_for_reply(TEAM, update["message"]["message_id"])
        assert await count_rows(app, direction="in") == 1
    assert len(model_server.requests) == 1


async def test_a_graceful_restart_in_a_burst_answers_every_message_once(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    members = {"Alice": ALICE, "Bob": BOB, "Carol": CAROL}
    model_server.responder = named_responder(delay_s=0.5)
    config = team_config(tmp_path, tg, model_server)
    asked: list[int] = []
    async with start_app(config):
        asked += [tg.say(TEAM, uid, name, f"first from {name}") for name, uid in members.items()]
        await asyncio.to_thread(model_server.wait_for_requests, 3)  # three turns in flight
        asked += [tg.say(TEAM, uid, name, f"second from {name}") for name, uid in members.items()]
        await tg.wait_until(lambda: not tg.pending_updates, "every update confirmed")
    # Stopped while three turns ran and three messages waited in their members' lanes.
    model_server.responder = named_responder()
    async with start_app(config):
        await tg.wait_until(lambda: len(tg.sent) >= 6, "six replies")
    per_message = Counter(s.reply_to_message_id for s in tg.sent)
    assert (
        set(per_message) == set(asked) and len(per_message) == len(asked) and set(per_message.values()) == {1}
    )
    assert len(turn_requests(model_server)) == 6


async def test_answers_finished_while_stopping_are_sent_before_the_daemon_exits(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    model_server.responder = named_responder(delay_s=0.5)
    async with start_app(team_config(tmp_path, tg, model_server)):
        asked = [tg.say(TEAM, uid, name, "status?") for name, uid in (("Alice", ALICE), ("Bob", BOB))]
        await asyncio.to_thread(model_server.wait_for_requests, 2)
    # The stop waited for both turns to finish (the drain); their answers must have reached the chat.
    assert [s.reply_to_message_id for s in tg.sent] in (asked, asked[::-1])


async def test_a_crash_in_a_burst_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    members = {f"Member{i}": 2001 + i for i in range(6)}
    model_server.responder = named_responder(delay_s=5.0)
    # Three turns at the model, three waiting for a turn slot, when the process dies.
    config = team_config(tmp_path, tg, model_server, agent={"max_concurrent_turns": 3})
    async with start_app(config) as app:
        asked = [tg.say(TEAM, uid, name, f"question from {name}") for name, uid in members.items()]
        await asyncio.to_thread(model_server.wait_for_requests, 3)
        await tg.wait_until(lambda: not tg.pending_updates, "every update confirmed")
        # A stop that leaves turns no time to finish, as a killed process would: every turn is cut off.
        await app.dispatcher.aclose(0)
        assert await count_rows(app, direction="in") == len(members)
    assert tg.sent == []
    model_server.responder = named_responder()
    async with start_app(config) as app:
        await tg.wait_until(lambda: len(tg.sent) >= len(members), "a reply to every message")
        status = await inbound_status(app, "telegram")
    per_message = Counter(s.reply_to_message_id for s in tg.sent)
    assert (
        set(per_message) == set(asked) and len(per_message) == len(asked) and set(per_message.values()) == {1}
    )
    assert set(status.values()) == {"answered"}
    for name in members:  # each reply went to the member who asked
        assert any(s.text == f"{name}\nNoted, {name}." for s in tg.sent)


async def test_delegation_runs_in_the_named_members_sub_agent(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    model_server.responder = named_responder()
    async with start_app(team_config(tmp_path, tg, model_server, memory=True)) as app:
        await tg.wait_for_reply(TEAM, tg.say(TEAM, ALICE, "Alice", "the release codename is Falcon"))
        await tg.wait_for_reply(TEAM, tg.say(TEAM, BOB, "Bob", "I prefer short bullet lists"))
        assert app.services.memory is not None
        members = app.services.members
        for uid, name, secret in ((ALICE, "Alice", "1234"), (BOB, "Bob", "4711")):
            member = await members.member_for("telegram", str(uid), name)
            scope = MemberScope(member.id, name, "telegram", str(uid), ChatKind.DIRECT)
            await app.services.memory.remember(
                scope, f"{name}'s locker code is {secret}", visibility="private"
            )
        # Control: Alice's own sub-agent does recall her private note for such a question.
        await tg.wait_for_reply(TEAM, tg.say(TEAM, ALICE, "Alice", "what is my locker code?"))
        asked = tg.say(
            TEAM, BOB, "Bob", "ask Alice's agent to draft the release notes and add my locker code"
        )
        reply = await tg.wait_for_reply(TEAM, asked)

    turns = turn_requests(model_server)
    control = next(t for t in turns if "what is my locker code?" in t.new_message.splitlines()[-1])
    assert "1234" in control.all_text
    delegated = next(t for t in turns if "draft the release notes" in t.new_message.splitlines()[-1])
    assert delegated.speaker == "Alice" and "delegated by Bob" in delegated.new_message
    assert "Falcon" in delegated.history_text and "bullet lists" not in delegated.history_text
    assert "4711" not in delegated.all_text and "1234" not in delegated.all_text  # no one's private memory
    assert f"tg://user?id={BOB}" in reply.raw_text and f"tg://user?id={ALICE}" in reply.raw_text
    assert reply.text.startswith("Bob Alice\n")


async def test_forum_topics_are_separate_conversations(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    migration = tg.create_topic(TEAM, "Migration")
    party = tg.create_topic(TEAM, "Party", creator_id=BOT_USER_ID)  # a topic the bot itself opened
    model_server.responder = named_responder()
    async with start_app(team_config(tmp_path, tg, model_server)) as app:
        await tg.wait_for_reply(
            TEAM, tg.say(TEAM, ALICE, "Alice", "here we plan the database move", thread_id=migration)
        )
        await tg.wait_for_reply(
            TEAM, tg.say(TEAM, ALICE, "Alice", "here we plan the summer party", thread_id=party)
        )
        # In a topic every message implicitly replies to the topic-created message, here the bot's own.
        aloud = tg.say(TEAM, ALICE, "Alice", "thinking aloud about cakes", to_bot=False, thread_id=party)
        question = tg.say(TEAM, ALICE, "Alice", "what do we plan here?", thread_id=migration)
        reply = await tg.wait_for_reply(TEAM, question)
        last = tg.say(TEAM, ALICE, "Alice", "and the budget?", thread_id=party)
        party_reply = await tg.wait_for_reply(TEAM, last)
        status = await inbound_status(app, "telegram")
    assert reply.message_thread_id == migration and party_reply.message_thread_id == party
    assert tg.replies_to(TEAM, aloud) == [] and status[str(aloud)] == "ignored"
    turns = {t.new_message.splitlines()[-1].split(": ", 1)[1]: t for t in turn_requests(model_server)}
    here = turns["what do we plan here?"]
    assert "database move" in here.history_text and "summer party" not in here.history_text
    assert "cakes" not in here.all_text  # another topic's talk is not this topic's transcript
    budget = turns["and the budget?"]
    assert "summer party" in budget.history_text and "database move" not in budget.history_text
    assert "Alice: thinking aloud about cakes" in budget.new_message


async def test_a_long_answer_arrives_in_order_split_on_paragraphs_in_its_topic(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    topic = tg.create_topic(TEAM, "Notes")
    paragraphs = [f"Section {i}: " + " ".join(f"w{i}x{j}" for j in range(240)) for i in range(1, 7)]
    model_server.enqueue_text("\n\n".join(paragraphs))
    async with start_app(team_config(tmp_path, tg, model_server)):
        asked = tg.say(TEAM, ALICE, "Alice", "write the full release notes", thread_id=topic)
        await tg.wait_for_reply(TEAM, asked)
        await tg.wait_until(
            lambda: sum(p.count("Section") for p in (s.text for s in tg.sent)) >= 6, "every section"
        )
    parts = tg.sent
    assert len(parts) >= 2 and all(len(p.text) <= TEXT_LIMIT for p in parts)
    assert all(p.message_thread_id == topic for p in parts)
    assert parts[0].reply_to_message_id == asked and all(p.reply_to_message_id is None for p in parts[1:])
    assert [p.message_id for p in parts] == sorted(p.message_id for p in parts)
    assert parts[0].text.startswith("Alice\n")
    received = [block for p in parts for block in p.text.removeprefix("Alice\n").split("\n\n")]
    assert received == paragraphs  # whole paragraphs, in order, nothing lost


async def test_pairing_allowing_and_ignoring(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    model_server.responder = named_responder()
    async with start_app(team_config(tmp_path, tg, model_server)) as app:
        hello = tg.say(ERIN, ERIN, "Erin", "hello?", chat_type="private")
        offer = (await tg.wait_for_reply(ERIN, hello)).text
        code = re.search(r"/pair ([0-9A-F]{6})", offer)
        assert code is not None, offer
        self_approval = tg.say(ERIN, ERIN, "Erin", "/pair " + code.group(1), chat_type="private")
        assert (await tg.wait_for_reply(ERIN, self_approval)).text == offer  # no commands before pairing
        approve = tg.say(OWNER, OWNER, "Olga", f"/pair {code.group(1)}", chat_type="private")
        assert (await tg.wait_for_reply(OWNER, approve)).text == "Approved Erin. They can talk to me now."
        again = tg.say(ERIN, ERIN, "Erin", "hello again", chat_type="private")
        assert (await tg.wait_for_reply(ERIN, again)).text == "Noted, Erin."

        ignored = tg.say(OTHER_GROUP, BOB, "Bob", "anyone here?")
        not_yet = tg.say(OTHER_GROUP, OWNER, "Olga", "are you on?")
        assert "Not active here yet" in (await tg.wait_for_reply(OTHER_GROUP, not_yet)).text
        allow = tg.say(OTHER_GROUP, OWNER, "Olga", "/allow")
        assert "allowed now" in (await tg.wait_for_reply(OTHER_GROUP, allow)).text
        answered = tg.say(OTHER_GROUP, BOB, "Bob", "anyone here now?")
        assert (await tg.wait_for_reply(OTHER_GROUP, answered)).text.endswith("Noted, Bob.")
        status = await inbound_status(app, "telegram")
    assert tg.replies_to(OTHER_GROUP, ignored) == [] and status[str(ignored)] == "ignored"
    assert [t.speaker for t in turn_requests(model_server)] == ["Erin", "Bob"]


async def test_slash_commands_in_a_group(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    model_server.responder = named_responder()

    async def ask(text: str) -> str:
        return (await tg.wait_for_reply(TEAM, tg.say(TEAM, ALICE, "Alice", text, to_bot=False))).text

    async with start_app(team_config(tmp_path, tg, model_server)):
        help_text = await ask("/help@teamclaw_bot")
        assert "/new" in help_text and "/usage" in help_text and "/pair" not in help_text  # admin-only hidden
        assert "member #" in await ask("/whoami") and "Alice" in await ask("/whoami")
        assert "running" in await ask("/status")
        await ask("@teamclaw_bot remember the fruit kiwi")
        await ask("@teamclaw_bot and?")
        assert "model usage" in (usage := await ask("/usage")).lower() and "2" in usage
        assert "fresh session" in await ask("/new")
        await ask("@teamclaw_bot which fruit?")
    turns = turn_requests(model_server)
    assert [t.new_message.splitlines()[-1].split(": ", 1)[1] for t in turns] == [
        "remember the fruit kiwi",
        "and?",
        "which fruit?",
    ]
    assert "kiwi" in turns[1].history_text  # the control: before /new the history holds it
    assert turns[2].history == []


async def test_a_burst_from_one_member_folds_into_one_turn(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    model_server.responder = named_responder(delay_s=1.0)
    config = team_config(tmp_path, tg, model_server, agent={"burst_window_ms": 1500})
    texts = ["deploy plan:", "first the database", "then the web tier"]
    async with start_app(config) as app:
        asked = [tg.say(TEAM, ALICE, "Alice", text) for text in texts]
        reply = await tg.wait_for_reply(TEAM, asked[-1])
        status = await inbound_status(app, "telegram")
        calls = await model_calls(app)
    assert len(tg.sent) == 1 and reply.text.endswith("Noted, Alice.")
    assert [status[str(m)] for m in asked] == ["answered"] * 3
    final = turn_requests(model_server)[-1]
    assert all(text in final.new_message for text in texts)
    assert calls[-1].ok


async def test_typing_shows_only_for_a_turn_that_runs_past_the_indicator_delay(
    tmp_path: Path, tg: GroupTelegram, model_server: ScriptedModelServer
) -> None:
    config = team_config(tmp_path, tg, model_server, agent={"working_indicator_after_ms": 300})
    async with start_app(config):
        quick = tg.say(TEAM, ALICE, "Alice", "quick one")
        await tg.wait_for_reply(TEAM, quick)
        after_quick = len(tg.chat_actions)
        model_server.responder = named_responder(delay_s=1.0)
        slow = tg.say(TEAM, BOB, "Bob", "slow one")
        await tg.wait_for_reply(TEAM, slow)
        actions = await tg.wait_for_chat_actions(1)
    assert after_quick == 0  # answered before the delay: no "typing…" call at all
    assert [(a.chat_id, a.action) for a in actions] == [(TEAM, "typing")]
