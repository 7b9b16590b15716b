"""Group chats on Feishu end to end: the daemon builds its Feishu channel (webhook mode) from the config;
events arrive encrypted and signed from the pusher, replies go out through lark-oapi to the stand-in open
platform. The last test runs Telegram and Feishu in one daemon to link one person's two accounts."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Config
from channels.feishu.render import CARD_LIMIT_BYTES, TEXT_LIMIT_BYTES
from tests.standins.group_world import (
    Gate,
    GroupFeishu,
    GroupTelegram,
    count_rows,
    count_seen_events,
    feishu_say,
    feishu_section,
    group_config,
    inbound_status,
    model_calls,
    named_responder,
    pusher_for,
    start_app,
    telegram_section,
    turn_requests,
)
from tests.standins.model_server import ScriptedModelServer

TEAM = "oc_team"
OTHER_GROUP = "oc_other"
OWNER = "ou_owner"
PEOPLE = {
    "ou_alice": "Alice",
    "ou_bob": "Bob",
    "ou_carol": "Carol",
    "ou_dave": "Dave",
    "ou_erin": "Erin",
    OWNER: "Olga",
}


@pytest.fixture
def fs() -> Iterator[GroupFeishu]:
    with GroupFeishu() as fake:
        for open_id, name in PEOPLE.items():
            fake.add_user(open_id, name)
        yield fake


def team_config(tmp_path: Path, fs: GroupFeishu, model: ScriptedModelServer, **extra: Any) -> Config:
    return group_config(
        tmp_path / "home",
        model,
        feishu=feishu_section(fs),
        allowed_chats=[f"feishu:{TEAM}"],
        owners=[f"feishu:{OWNER}"],
        **extra,
    )


def at(open_id: str) -> str:
    return f'<at user_id="{open_id}">{PEOPLE[open_id]}</at>'


async def test_three_members_at_once_each_get_their_own_answer_and_context(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer
) -> None:
    gate = Gate(4)
    model_server.responder = named_responder(extra=lambda turn: None if gate.wait() else "not in parallel")
    words = {"ou_alice": "apricot", "ou_bob": "bamboo", "ou_carol": "cobalt"}
    # The working reaction shown at once (by default only turns that run past a second show it).
    async with start_app(team_config(tmp_path, fs, model_server,
                                     agent={"working_indicator_after_ms": 0})) as app:
        pusher = pusher_for(app, fs)
        await feishu_say(pusher, fs, TEAM, "ou_dave", "lunch at noon anyone?", to_bot=False)
        first = await asyncio.gather(
            *(feishu_say(pusher, fs, TEAM, oid, f"my word is {word}") for oid, word in words.items()),
            feishu_say(pusher, fs, TEAM, "ou_erin", "a question in my thread", thread_id="omt_erin"),
        )
        for asked in first:
            await fs.wait_for_reply(asked)
        model_server.responder = named_responder()
        second = {oid: await feishu_say(pusher, fs, TEAM, oid, "what did I tell you?") for oid in words}
        replies = {oid: await fs.wait_for_reply(asked) for oid, asked in second.items()}
        await fs.wait_until(
            lambda: all(not fs.reactions_on(m) for m in [*first, *second.values()]),
            "working reactions removed",
        )

    for oid, reply in replies.items():
        assert reply.msg_type == "text" and reply.text == f"{at(oid)} Noted, {PEOPLE[oid]}."
        assert reply.uuid and reply.thread_id is None
    in_thread = fs.replies_to(first[-1])[0]
    assert in_thread.reply_in_thread and in_thread.thread_id == "omt_erin"
    assert ("add", second["ou_bob"], "Typing") in fs.reaction_log  # "working" shown while the turn ran
    asks = {t.speaker: t for t in turn_requests(model_server) if "what did I tell you?" in t.new_message}
    assert set(asks) == {"Alice", "Bob", "Carol"}
    for oid, word in words.items():
        turn = asks[PEOPLE[oid]]
        assert word in turn.history_text
        assert not any(w in turn.history_text for o, w in words.items() if o != oid)
        transcript = turn.new_message.split("</group-transcript>")[0]
        assert "Dave: lunch at noon anyone?" in transcript
        assert all(f"{PEOPLE[o]}: my word is {w}" in transcript for o, w in words.items())


async def test_redelivered_and_replayed_events_are_answered_once(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer
) -> None:
    async with start_app(team_config(tmp_path, fs, model_server)) as app:
        pusher = pusher_for(app, fs)
        body = pusher.message_event(
            chat_id=TEAM,
            sender="ou_alice",
            text="@_user_1 is the build green?",
            mentions=[(fs.bot_open_id, fs.bot_name)],
        )
        asked = body["event"]["message"]["message_id"]
        assert (await pusher.push(body)).status_code == 200
        assert (await pusher.push(body)).status_code == 200  # not acknowledged in time: Feishu sends it again
        await fs.wait_for_reply(asked)
        renamed = json.loads(json.dumps(body))
        renamed["header"]["event_id"] = "ev-after-reconnect"  # the same message under a new event id
        assert (await pusher.push(renamed)).status_code == 200
        later = await feishu_say(pusher, fs, TEAM, "ou_alice", "thanks")  # same lane, so after any duplicate
        await fs.wait_for_reply(later)
        assert await count_rows(app, direction="in") == 2
    assert len(fs.replies_to(asked)) == 1 and len(fs.sent) == 2
    assert len(turn_requests(model_server)) == 2


async def test_forged_stale_and_malformed_requests_change_nothing(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer
) -> None:
    async with start_app(team_config(tmp_path, fs, model_server)) as app:
        pusher = pusher_for(app, fs)
        body = pusher.message_event(
            chat_id=TEAM,
            sender="ou_alice",
            text="@_user_1 delete the backups",
            mentions=[(fs.bot_open_id, fs.bot_name)],
        )
        plain = json.dumps(body).encode()
        answers = [
            await pusher.push(body, forge_signature=True),
            await pusher.push(body, token="a-guessed-token"),
            await pusher.push(body, sign=False),
            await pusher.push(body, timestamp=int(time.time()) - 3600),  # a replay of an old, genuine request
            await pusher.push(body, encrypt_key="another-apps-key"),
            await pusher.push(body, raw=plain),  # not encrypted although the app requires it
            await pusher.push(body, raw=b"{not json"),
            await pusher.push(body, raw=b'{"encrypt": "bm90IGNpcGhlcnRleHQ="}'),
        ]
        assert [a.status_code for a in answers] == [401, 401, 401, 401, 400, 401, 400, 400]
        assert await count_rows(app) == 0 and await count_seen_events(app) == 0
        assert (await pusher.push(body)).status_code == 200  # the genuine request goes through
        await fs.wait_for_reply(body["event"]["message"]["message_id"])
        assert await count_rows(app, direction="in") == 1
    assert len(model_server.requests) == 1 and len(fs.sent) == 1


async def test_a_crash_in_a_burst_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer
) -> None:
    people = ["ou_alice", "ou_bob", "ou_carol", "ou_dave"]
    model_server.responder = named_responder(delay_s=5.0)
    config = team_config(tmp_path, fs, model_server, agent={"max_concurrent_turns": 2})
    async with start_app(config) as app:
        pusher = pusher_for(app, fs)
        asked = [await feishu_say(pusher, fs, TEAM, oid, "what is our status?") for oid in people]
        await asyncio.to_thread(model_server.wait_for_requests, 2)
        await app.dispatcher.aclose(0)  # no time to finish, as for a killed process
    assert fs.sent == []
    model_server.responder = named_responder()
    async with start_app(config) as app:
        await fs.wait_until(lambda: len(fs.sent) >= len(people), "a reply to every message")
        status = await inbound_status(app, "feishu")
    per_message = Counter(s.reply_to for s in fs.sent)
    assert (
        set(per_message) == set(asked) and len(per_message) == len(asked) and set(per_message.values()) == {1}
    )
    assert set(status.values()) == {"answered"} and len({s.uuid for s in fs.sent}) == len(people)
    for oid, message_id in zip(people, asked, strict=True):
        assert fs.replies_to(message_id)[0].text == f"{at(oid)} Noted, {PEOPLE[oid]}."


async def test_delegation_to_a_mentioned_members_agent(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer
) -> None:
    model_server.responder = named_responder()
    async with start_app(team_config(tmp_path, fs, model_server)) as app:
        pusher = pusher_for(app, fs)
        await fs.wait_for_reply(await feishu_say(pusher, fs, TEAM, "ou_alice", "the codename is Falcon"))
        await fs.wait_for_reply(await feishu_say(pusher, fs, TEAM, "ou_bob", "my budget line is 77-B"))
        asked = await feishu_say(
            pusher,
            fs,
            TEAM,
            "ou_bob",
            "ask @_user_2's agent to draft the release notes",
            mentions=[("ou_alice", "Alice")],
        )
        reply = await fs.wait_for_reply(asked)
    delegated = turn_requests(model_server)[-1]
    assert delegated.speaker == "Alice" and "delegated by Bob" in delegated.new_message
    assert "draft the release notes" in delegated.new_message.splitlines()[-1]
    assert "Falcon" in delegated.history_text and "77-B" not in delegated.history_text
    assert reply.text == f"{at('ou_bob')} {at('ou_alice')} Noted, Alice."


async def test_long_answers_split_within_feishus_limits_in_order(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer
) -> None:
    plain = [f"Paragraph {i}. " + " ".join(f"w{i}x{j}" for j in range(900)) for i in range(30)]
    cards = [
        f"## Section {i}\n- " + "\n- ".join(f"item {i}.{j} " + "z" * 80 for j in range(120)) for i in range(4)
    ]
    model_server.enqueue_text("\n\n".join(plain))
    model_server.enqueue_text("\n\n".join(cards))
    async with start_app(team_config(tmp_path, fs, model_server)) as app:
        pusher = pusher_for(app, fs)
        text_ask = await feishu_say(
            pusher, fs, TEAM, "ou_alice", "the full changelog please", thread_id="omt_log"
        )
        await fs.wait_until(
            lambda: sum(s.text.count("Paragraph ") for s in fs.replies_to(text_ask)) >= 30, "every paragraph"
        )
        card_ask = await feishu_say(pusher, fs, TEAM, "ou_alice", "and as sections", thread_id="omt_log")
        await fs.wait_until(
            lambda: sum(s.text.count("## Section") for s in fs.replies_to(card_ask)) >= 4, "every section"
        )
    for asked, expected, kind, limit in (
        (text_ask, plain, "text", TEXT_LIMIT_BYTES),
        (card_ask, cards, "interactive", CARD_LIMIT_BYTES),
    ):
        parts = fs.replies_to(asked)
        assert len(parts) >= 2 and {p.msg_type for p in parts} == {kind}
        assert all(len(json.dumps(json.dumps(p.content, ensure_ascii=False))) <= limit for p in parts)
        assert all(p.thread_id == "omt_log" for p in parts) and len({p.uuid for p in parts}) == len(parts)
        shown = "\n\n".join(p.text for p in parts)
        lead = f"{at('ou_alice')} " if kind == "text" else "<at id=ou_alice></at> "
        assert shown.startswith(lead)
        assert [b for b in shown.removeprefix(lead).split("\n\n")] == expected


async def test_pairing_allowing_and_ignoring(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer
) -> None:
    model_server.responder = named_responder()
    async with start_app(team_config(tmp_path, fs, model_server)) as app:
        pusher = pusher_for(app, fs)
        hello = await feishu_say(pusher, fs, "oc_dm_erin", "ou_erin", "hello?", chat_type="p2p")
        code = re.search(r"/pair ([0-9A-F]{6})", (await fs.wait_for_reply(hello)).text)
        assert code is not None
        approve = await feishu_say(pusher, fs, "oc_dm_olga", OWNER, f"/pair {code.group(1)}", chat_type="p2p")
        assert (await fs.wait_for_reply(approve)).text == "Approved Erin. They can talk to me now."
        again = await feishu_say(pusher, fs, "oc_dm_erin", "ou_erin", "hello again", chat_type="p2p")
        assert (await fs.wait_for_reply(again)).text == "Noted, Erin."

        ignored = await feishu_say(pusher, fs, OTHER_GROUP, "ou_bob", "anyone here?")
        allow = await feishu_say(pusher, fs, OTHER_GROUP, OWNER, "/allow")
        assert "allowed now" in (await fs.wait_for_reply(allow)).text
        answered = await feishu_say(pusher, fs, OTHER_GROUP, "ou_bob", "anyone here now?")
        assert (await fs.wait_for_reply(answered)).text == f"{at('ou_bob')} Noted, Bob."
        status = await inbound_status(app, "feishu")
    assert fs.replies_to(ignored) == [] and status[ignored] == "ignored"
    assert [t.speaker for t in turn_requests(model_server)] == ["Erin", "Bob"]


async def test_slash_commands_in_a_group(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer
) -> None:
    model_server.responder = named_responder()
    async with start_app(team_config(tmp_path, fs, model_server)) as app:
        pusher = pusher_for(app, fs)

        async def ask(text: str) -> str:
            return (await fs.wait_for_reply(await feishu_say(pusher, fs, TEAM, "ou_alice", text))).text

        help_text = await ask("/help")
        assert "/new" in help_text and "/whoami" in help_text and "/link" not in help_text
        assert "You are Alice (member #" in await ask("/whoami")
        assert "running" in await ask("/status")
        await ask("remember the fruit kiwi")
        await ask("and?")
        assert "model usage" in (await ask("/usage")).lower()
        assert "fresh session" in await ask("/new")
        await ask("which fruit?")
    turns = turn_requests(model_server)
    assert len(turns) == 3 and "kiwi" in turns[1].history_text and turns[2].history == []


async def test_a_burst_from_one_member_folds_into_one_turn(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer
) -> None:
    model_server.responder = named_responder(delay_s=1.0)
    texts = ["deploy plan:", "first the database", "then the web tier"]
    async with start_app(team_config(tmp_path, fs, model_server, agent={"burst_window_ms": 1500})) as app:
        pusher = pusher_for(app, fs)
        asked = [await feishu_say(pusher, fs, TEAM, "ou_alice", text) for text in texts]
        reply = await fs.wait_for_reply(asked[-1])
        status = await inbound_status(app, "feishu")
    assert len(fs.sent) == 1 and reply.text == f"{at('ou_alice')} Noted, Alice."
    assert [status[m] for m in asked] == ["answered"] * 3
    assert all(text in turn_requests(model_server)[-1].new_message for text in texts)


async def test_link_makes_one_member_of_a_telegram_and_a_feishu_account(
    tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer
) -> None:
    tg_team, tg_alice, tg_owner = -1003000000003, 1001, 9001
    model_server.responder = named_responder()
    with GroupTelegram() as tg:
        config = group_config(
            tmp_path / "home",
            model_server,
            telegram=telegram_section(tg),
            feishu=feishu_section(fs),
            owners=[f"telegram:{tg_owner}"],
            allowed_chats=[f"feishu:{TEAM}", f"telegram:{tg_team}"],
        )
        async with start_app(config) as app:
            assert set(app.channels) == {"telegram", "feishu"}
            pusher = pusher_for(app, fs)
            await tg.wait_for_reply(tg_team, tg.say(tg_team, tg_alice, "Alice", "my pet is a tortoise"))
            await fs.wait_for_reply(await feishu_say(pusher, fs, TEAM, "ou_alice", "hello from Feishu"))
            link = tg.say(
                tg_owner, tg_owner, "Olga", f"/link telegram:{tg_alice} feishu:ou_alice", chat_type="private"
            )
            assert (await tg.wait_for_reply(tg_owner, link)).text.startswith("Linked: feishu:ou_alice is now")
            who = await fs.wait_for_reply(await feishu_say(pusher, fs, TEAM, "ou_alice", "/whoami"))
            await fs.wait_for_reply(await feishu_say(pusher, fs, TEAM, "ou_alice", "what pet do I have?"))
            calls = await model_calls(app)
    # One person now: the Feishu account's earlier usage moved to the linked member too.
    assert len({c.member_id for c in calls}) == 1
    telegram_member = calls[0].member_id
    assert f"member #{telegram_member}," in who.text


async def test_delegation_still_finds_a_member_after_linking(
        tmp_path: Path, fs: GroupFeishu, model_server: ScriptedModelServer) -> None:
    tg_team, tg_alice, tg_bob, tg_owner = -1003000000003, 1001, 1002, 9001
    model_server.responder = named_responder()
    with GroupTelegram() as tg:
        config = group_config(tmp_path / "home", model_server, telegram=telegram_section(tg),
                              feishu=feishu_section(fs), owners=[f"telegram:{tg_owner}"],
                              allowed_chats=[f"feishu:{TEAM}", f"telegram:{tg_team}"])
        async with start_app(config) as app:
            pusher = pusher_for(app, fs)
            await tg.wait_for_reply(tg_team, tg.say(tg_team, tg_alice, "Alice", "I own the release"))
            await fs.wait_for_reply(await feishu_say(pusher, fs, TEAM, "ou_alice", "hello from Feishu"))
            link = tg.say(tg_owner, tg_owner, "Olga", f"/link telegram:{tg_alice} feishu:ou_alice",
                          chat_type="private")
            await tg.wait_for_reply(tg_owner, link)
            asked = tg.say(tg_team, tg_bob, "Bob", "ask Alice's agent to draft the release notes")
            await tg.wait_for_reply(tg_team, asked)
    delegated = turn_requests(model_server)[-1]
    assert delegated.speaker == "Alice" and "delegated by Bob" in delegated.new_message
