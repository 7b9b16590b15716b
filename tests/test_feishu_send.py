"""Feishu sending through the real lark-oapi client against the stand-in open platform."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from assistant.errors import RateLimited, SendFailed
from assistant.messages import ChatKind, Inbound, Reply
from channels.feishu import FeishuApi, FeishuChannel
from channels.feishu.api import FeishuApiError
from tests.standins.feishu_server import ENCRYPT_KEY, VERIFICATION_TOKEN, FakeFeishu, FeishuPusher, feishu_config


@pytest.fixture
def fake() -> Iterator[FakeFeishu]:
    with FakeFeishu() as platform:
        yield platform


@pytest.fixture
def got() -> list[Inbound]:
    """What the channel delivered (where the inbox would store it)."""
    return []


@pytest.fixture
async def adapter(fake: FakeFeishu, got: list[Inbound]) -> AsyncIterator[FeishuChannel]:
    channel = FeishuChannel(feishu_config(fake))

    async def deliver(msg: Inbound) -> bool:
        got.append(msg)
        return True

    await channel.start(deliver)
    try:
        yield channel
    finally:
        await channel.stop()


def _asking(fake: FakeFeishu, message_id: str = "om_ask", thread_id: str | None = None) -> Inbound:
    fake.note_message(message_id, "oc_team", thread_id)
    return Inbound(channel="feishu", chat_id="oc_team", chat_kind=ChatKind.GROUP, sender_id="ou_alice",
                   sender_name="Alice", text="status?", platform_message_id=message_id, thread_id=thread_id)


def _reply(text: str = "All green.", **kwargs: Any) -> Reply:
    values: dict[str, Any] = {"channel": "feishu", "chat_id": "oc_team", "text": text, "idempotency_key": "r-1",
                              "reply_to_message_id": "om_ask", "mention_user_ids": ("ou_alice",),
                              "mention_names": ("Alice",)}
    values.update(kwargs)
    return Reply(**values)


async def test_reply_goes_to_the_asking_message_mentioning_the_member(adapter: FeishuChannel,
                                                                      fake: FakeFeishu) -> None:
    _asking(fake)
    ref = await adapter.send(_reply())
    [sent] = await fake.wait_for_sent(1)
    assert (sent.chat_id, sent.reply_to, sent.msg_type, sent.reply_in_thread) == ("oc_team", "om_ask", "text", False)
    assert sent.text == '<at user_id="ou_alice">Alice</at> All green.'
    assert ref.platform_message_ids == (sent.message_id,)


async def test_a_message_in_a_thread_is_answered_in_that_thread(adapter: FeishuChannel, fake: FakeFeishu) -> None:
    _asking(fake, "om_in_topic", thread_id="omt_topic")
    await adapter.send(_reply(reply_to_message_id="om_in_topic", thread_id="omt_topic"))
    [sent] = await fake.wait_for_sent(1)
    assert sent.reply_in_thread and sent.thread_id == "omt_topic" and sent.reply_to == "om_in_topic"


async def test_reply_in_thread_config_opens_a_thread(fake: FakeFeishu) -> None:
    channel = FeishuChannel(feishu_config(fake, reply_in_thread=True))
    _asking(fake)
    try:
        await channel.send(_reply())
    finally:
        await channel.stop()
    [sent] = await fake.wait_for_sent(1)
    assert sent.reply_in_thread and sent.thread_id is not None


async def test_without_a_message_to_answer_it_posts_in_the_chat(adapter: FeishuChannel, fake: FakeFeishu) -> None:
    await adapter.send(_reply("Daily digest", reply_to_message_id=None, mention_user_ids=(), mention_names=()))
    [sent] = await fake.wait_for_sent(1)
    assert (sent.chat_id, sent.reply_to, sent.text) == ("oc_team", None, "Daily digest")


async def test_a_recalled_question_still_gets_its_answer_in_the_chat(adapter: FeishuChannel,
                                                                     fake: FakeFeishu) -> None:
    await adapter.send(_reply(reply_to_message_id="om_recalled"))  # the fake knows no such message: 230011
    [sent] = await fake.wait_for_sent(1)
    assert sent.reply_to is None and sent.chat_id == "oc_team"


async def test_a_retried_send_posts_once(adapter: FeishuChannel, fake: FakeFeishu) -> None:
    _asking(fake)
    first = await adapter.send(_reply())
    again = await adapter.send(_reply())  # the outbox retries after a crash: same idempotency key
    assert first == again
    assert len(fake.sent) == 1


async def test_a_long_answer_is_split_into_parts_each_with_its_own_uuid(adapter: FeishuChannel,
                                                                        fake: FakeFeishu) -> None:
    _asking(fake)
    text = "\n\n".join(f"## Part {i}\n" + "- item\n" * 3000 for i in range(3))  # a card, over 30 KB
    ref = await adapter.send(_reply(text))
    sent = fake.sent
    assert len(sent) == len(ref.platform_message_ids) >= 2
    assert {s.msg_type for s in sent} == {"interactive"} and {s.reply_to for s in sent} == {"om_ask"}
    assert len({s.uuid for s in sent}) == len(sent)
    assert sent[0].text.startswith("<at id=ou_alice></at>") and "<at" not in sent[1].text
    assert await adapter.send(_reply(text)) == ref and len(fake.sent) == len(sent)


async def test_feishu_rate_limit_code_becomes_rate_limited(adapter: FeishuChannel, fake: FakeFeishu) -> None:
    _asking(fake)
    fake.fail_next("/reply", code=230020, reset=7, msg="message send rate limit")
    with pytest.raises(RateLimited) as caught:
        await adapter.send(_reply())
    assert caught.value.retry_after == 7
    fake.fail_next("/reply", http_status=429, reset=2)
    with pytest.raises(RateLimited) as caught:
        await adapter.send(_reply())
    assert caught.value.retry_after == 2
    assert fake.sent == []
    await adapter.send(_reply())
    assert len(fake.sent) == 1


async def test_other_errors_say_whether_a_retry_can_help(adapter: FeishuChannel, fake: FakeFeishu) -> None:
    _asking(fake)
    fake.fail_next("/reply", code=230002, msg="Bot/User can NOT be out of the chat.")
    with pytest.raises(SendFailed) as permanent:
        await adapter.send(_reply())
    fake.fail_next("/reply", code=1000, http_status=503, msg="internal error")
    with pytest.raises(SendFailed) as transient:
        await adapter.send(_reply())
    assert permanent.value.permanent and "230002" in str(permanent.value)
    assert not transient.value.permanent


async def test_working_reaction_goes_on_and_off(adapter: FeishuChannel, fake: FakeFeishu) -> None:
    asking = _asking(fake)
    await adapter.working(asking, True)
    assert fake.reactions_on("om_ask") == ["Typing"]
    await adapter.working(asking, False)
    assert fake.reactions_on("om_ask") == []
    assert fake.reaction_log == [("add", "om_ask", "Typing"), ("remove", "om_ask", "Typing")]


async def test_edits_use_put_for_text_and_patch_for_cards(adapter: FeishuChannel, fake: FakeFeishu) -> None:
    _asking(fake)
    [text_id] = (await adapter.send(_reply("draft"))).platform_message_ids
    [card_id] = (await adapter.send(_reply("# Draft\n- one", idempotency_key="r-2"))).platform_message_ids
    await adapter.edit("oc_team", text_id, "final")
    await adapter.edit("oc_team", card_id, "# Final\n- one")
    edits = fake.edits
    assert edits[0] == (text_id, "text", {"text": "final"})
    assert edits[1][0] == card_id and edits[1][2]["elements"][0]["content"] == "# Final\n- one"
    assert ("PUT", f"/open-apis/im/v1/messages/{text_id}") in fake.requests
    assert ("PATCH", f"/open-apis/im/v1/messages/{card_id}") in fake.requests


async def test_replies_to_the_bot_are_recognised_after_it_sent(adapter: FeishuChannel, fake: FakeFeishu,
                                                               got: list[Inbound]) -> None:
    _asking(fake)
    [bot_message] = (await adapter.send(_reply())).platform_message_ids
    pusher = FeishuPusher(adapter.webhook_url or "", ENCRYPT_KEY, VERIFICATION_TOKEN, platform=fake)
    response = await pusher.push(pusher.message_event(chat_id="oc_team", sender="ou_bob", text="and staging?",
                                                      parent_id=bot_message))
    assert response.status_code == 200 and got[0].addressed


async def test_names_come_from_the_contact_api_once_then_from_cache(adapter: FeishuChannel, fake: FakeFeishu,
                                                                    got: list[Inbound]) -> None:
    fake.add_user("ou_carol", "Carol")
    pusher = FeishuPusher(adapter.webhook_url or "", ENCRYPT_KEY, VERIFICATION_TOKEN, platform=fake)
    for text in ("one", "two"):
        await pusher.push(pusher.message_event(chat_id="oc_team", sender="ou_carol", text=text))
    assert [m.sender_name for m in got] == ["Carol", "Carol"]
    assert fake.requests.count(("GET", "/open-apis/contact/v3/users/ou_carol")) == 1


async def test_without_contact_permission_the_mention_name_is_used(adapter: FeishuChannel, fake: FakeFeishu,
                                                                   got: list[Inbound]) -> None:
    fake.contact_permission = False
    pusher = FeishuPusher(adapter.webhook_url or "", ENCRYPT_KEY, VERIFICATION_TOKEN, platform=fake)
    await pusher.push(pusher.message_event(chat_id="oc_team", sender="ou_bob", text="@_user_1 hi Dan",
                                           mentions=[("ou_dan", "Dan")]))
    await pusher.push(pusher.message_event(chat_id="oc_team", sender="ou_dan", text="hi"))
    assert [m.sender_name for m in got] == ["", "Dan"]
    assert fake.requests.count(("GET", "/open-apis/contact/v3/users/ou_bob")) == 1
    assert ("GET", "/open-apis/contact/v3/users/ou_dan") not in fake.requests


async def test_api_lists_chat_members_and_refreshes_a_revoked_token(fake: FakeFeishu) -> None:
    fake.add_member("oc_team", "ou_alice", "Alice")
    fake.add_member("oc_team", "ou_bob", "Bob")
    api = FeishuApi(feishu_config(fake))
    try:
        members = await api.chat_members("oc_team")
        assert [(m.open_id, m.name) for m in members] == [("ou_alice", "Alice"), ("ou_bob", "Bob")]
        fake.fail_next("/members", code=99991663, msg="Invalid access token for authorization.")
        assert len(await api.chat_members("oc_team")) == 2  # dropped the cached token and asked again
    finally:
        await api.aclose()


async def test_wrong_app_secret_fails_start_with_a_permanent_error(fake: FakeFeishu) -> None:
    channel = FeishuChannel(feishu_config(fake, app_secret="wrong"))
    with pytest.raises(FeishuApiError) as caught:
        await channel.start(lambda msg: asyncio.sleep(0, True))
    assert caught.value.permanent and "app_secret" in str(caught.value)
