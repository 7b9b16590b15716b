"""Replies through the real PTB Bot against the stand-in: topics, quoting, splitting, and Telegram's errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from assistant.config import TelegramConfig
from assistant.errors import ChannelError, FileRefused, RateLimited, SendFailed
from assistant.messages import Attachment, ChatKind, Inbound, OutgoingFile, Reply
from channels.base import Channel, EditsMessages, Reacts
from channels.telegram import TelegramChannel
from tests.standins.telegram_markup import utf16_units
from tests.standins.telegram_server import FakeTelegram, RecordingDeliver

FORUM = -1009876543210
GROUP = -1001234567890


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def config_for(fake: FakeTelegram, **extra: Any) -> TelegramConfig:
    return TelegramConfig.model_validate({
        "enabled": True, "token": fake.token, "token_env": None, "base_url": fake.base_url,
        "base_file_url": fake.base_file_url, "poll_timeout_s": 5, **extra,
    })


async def started(fake: FakeTelegram, **extra: Any) -> TelegramChannel:
    channel = TelegramChannel(config_for(fake, **extra))
    await channel.start(RecordingDeliver())
    return channel


@pytest.fixture
async def channel(fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    adapter = await started(fake)
    try:
        yield adapter
    finally:
        await adapter.stop()


def reply(chat_id: int, text: str, key: str = "r1", **extra: Any) -> Reply:
    return Reply(channel="telegram", chat_id=str(chat_id), text=text, idempotency_key=key, **extra)


def asked(fake: FakeTelegram, chat_id: int = GROUP, thread_id: int | None = None) -> int:
    update = fake.push_message(chat_id, "supergroup", 4201, "Alice", "@teamclaw_bot question", thread_id=thread_id)
    return int(update["message"]["message_id"])


def test_channel_implements_the_seams() -> None:
    channel = TelegramChannel(TelegramConfig())
    assert isinstance(channel, Channel) and isinstance(channel, Reacts) and isinstance(channel, EditsMessages)
    assert channel.name == "telegram"


async def test_long_reply_is_split_in_the_topic_quoting_the_asker(fake: FakeTelegram, channel: TelegramChannel) -> None:
    topic = fake.create_topic(FORUM, "Release 2.4")
    question = asked(fake, FORUM, thread_id=topic)
    paragraphs = [f"Step {i}: " + "check the <build> & deploy it. " * 25 for i in range(12)]  # ~9,500 chars
    text = "\n\n".join(paragraphs)

    ref = await channel.send(reply(FORUM, text, thread_id=str(topic), reply_to_message_id=str(question)))

    sent = fake.sent
    assert len(sent) == 3
    assert ref.platform_message_ids == tuple(str(m.message_id) for m in sent)
    assert all(m.chat_id == FORUM and m.message_thread_id == topic for m in sent)
    assert [m.reply_to_message_id for m in sent] == [question, None, None]
    assert all(utf16_units(m.text) <= 4096 for m in sent)
    assert all(m.text.endswith("deploy it.") for m in sent)  # cut on paragraph boundaries
    assert " ".join(m.text for m in sent).split() == text.split()  # every word, in order


async def test_quoting_a_vanished_message_still_sends(fake: FakeTelegram, channel: TelegramChannel) -> None:
    asked(fake)
    await channel.send(reply(GROUP, "here", reply_to_message_id="99999"))
    [message] = fake.sent
    assert message.text == "here" and message.reply_to_message_id is None


async def test_mentions_reach_the_member_as_links(fake: FakeTelegram, channel: TelegramChannel) -> None:
    asked(fake)
    await channel.send(reply(GROUP, "Release notes drafted.", mention_user_ids=("4201",), mention_names=("Alice",)))
    [message] = fake.sent
    assert message.text == "Alice\nRelease notes drafted."
    assert '<a href="tg://user?id=4201">Alice</a>' in message.raw_text


async def test_markdown_v2_mode_is_accepted_by_telegram(fake: FakeTelegram) -> None:
    channel = await started(fake, parse_mode="MarkdownV2")
    try:
        asked(fake)
        await channel.send(reply(GROUP, "**Done** (v2.4.1) - see `make_release.sh` [x]!"))
    finally:
        await channel.stop()
    [message] = fake.sent
    assert message.parse_mode == "MarkdownV2"
    assert message.text == "Done (v2.4.1) - see make_release.sh [x]!"


async def test_rate_limit_becomes_rate_limited_with_retry_after(fake: FakeTelegram, channel: TelegramChannel) -> None:
    asked(fake)
    fake.fail_next("sendMessage", error_code=429, retry_after=7)
    with pytest.raises(RateLimited) as caught:
        await channel.send(reply(GROUP, "hi"))
    assert caught.value.retry_after == 7
    assert fake.sent == []
    await channel.send(reply(GROUP, "hi"))
    assert [m.text for m in fake.sent] == ["hi"]


async def test_retry_after_a_rate_limit_mid_reply_does_not_repeat_parts(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    asked(fake)
    text = "\n\n".join(["a" * 3000, "b" * 3000, "c" * 3000])
    fake.fail_next("sendMessage", error_code=429, retry_after=1, after=1)
    with pytest.raises(RateLimited):
        await channel.send(reply(GROUP, text, key="long"))
    assert [m.text[0] for m in fake.sent] == ["a"]
    ref = await channel.send(reply(GROUP, text, key="long"))
    assert [m.text[0] for m in fake.sent] == ["a", "b", "c"]
    assert ref.platform_message_ids == tuple(str(m.message_id) for m in fake.sent)


async def test_send_to_a_migrated_group_follows_it_once(fake: FakeTelegram) -> None:
    old, new = -4001, -1004001
    fake.push_message(old, "group", 4201, "Alice", "hi")
    fake.migrate_chat(old, new)
    seen: list[tuple[str, str]] = []

    async def migrated(old_id: str, new_id: str) -> None:
        seen.append((old_id, new_id))

    channel = TelegramChannel(config_for(fake), on_chat_migrated=migrated)
    await channel.start(RecordingDeliver())
    try:
        ref = await channel.send(reply(old, "first"))
        await channel.send(reply(old, "second", key="r2"))
    finally:
        await channel.stop()
    assert seen == [(str(old), str(new))]
    assert [(m.chat_id, m.text) for m in fake.sent] == [(new, "first"), (new, "second")]
    assert ref.platform_message_ids == (str(fake.sent[0].message_id),)


async def test_forbidden_is_a_permanent_failure(fake: FakeTelegram, channel: TelegramChannel) -> None:
    asked(fake)
    fake.fail_next("sendMessage", error_code=403, description="Forbidden: bot was kicked from the supergroup chat")
    with pytest.raises(SendFailed) as caught:
        await channel.send(reply(GROUP, "hi"))
    assert caught.value.permanent and "kicked" in str(caught.value)


async def test_bad_request_is_permanent(fake: FakeTelegram, channel: TelegramChannel) -> None:
    with pytest.raises(SendFailed) as caught:
        await channel.send(reply(-100555, "to a chat the bot is not in"))
    assert caught.value.permanent and "chat not found" in str(caught.value).lower()


async def test_markup_refused_is_resent_once_as_plain_text(fake: FakeTelegram, channel: TelegramChannel) -> None:
    asked(fake)
    fake.fail_next("sendMessage", error_code=400,
                   description="Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0")
    await channel.send(reply(GROUP, "**bold** <x>"))
    [message] = fake.sent
    assert message.parse_mode is None and message.text == "bold <x>"


@pytest.mark.parametrize("code", [500, 502])
async def test_server_errors_are_transient(fake: FakeTelegram, channel: TelegramChannel, code: int) -> None:
    asked(fake)
    fake.fail_next("sendMessage", error_code=code)
    with pytest.raises(SendFailed) as caught:
        await channel.send(reply(GROUP, "hi"))
    assert not caught.value.permanent and not isinstance(caught.value, RateLimited)


async def test_empty_reply_is_refused_before_telegram(channel: TelegramChannel) -> None:
    with pytest.raises(SendFailed) as caught:
        await channel.send(reply(GROUP, "  \n "))
    assert caught.value.permanent


async def test_typing_shows_in_the_topic_while_turns_run(fake: FakeTelegram, channel: TelegramChannel) -> None:
    topic = fake.create_topic(FORUM, "Ops")
    first = asked(fake, FORUM, thread_id=topic)
    inbound_a = _inbound(FORUM, topic, first)
    inbound_b = _inbound(FORUM, topic, first + 1)
    await channel.working(inbound_a, True)
    await channel.working(inbound_b, True)
    [action] = await fake.wait_for_chat_actions(1)
    assert (action.chat_id, action.action, action.message_thread_id) == (FORUM, "typing", topic)
    await channel.working(inbound_a, False)
    assert channel._typing.active == 1  # Bob's turn still runs
    await channel.working(inbound_b, False)
    assert channel._typing.active == 0


def _inbound(chat_id: int, topic: int, message_id: int) -> Inbound:
    return Inbound(channel="telegram", chat_id=str(chat_id), chat_kind=ChatKind.GROUP, sender_id="4201",
                   sender_name="Alice", text="q", platform_message_id=str(message_id), thread_id=str(topic))


async def test_edit_changes_the_message_and_ignores_no_change(fake: FakeTelegram, channel: TelegramChannel) -> None:
    asked(fake)
    ref = await channel.send(reply(GROUP, "thinking…"))
    [message_id] = ref.platform_message_ids
    await channel.edit(str(GROUP), message_id, "**Answer:** 42")
    await channel.edit(str(GROUP), message_id, "**Answer:** 42")  # Telegram: "message is not modified"
    assert [(e.message_id, e.text) for e in fake.edits] == [(int(message_id), "Answer: 42")]
    stored = fake.message(GROUP, int(message_id))
    assert stored is not None and stored["text"] == "Answer: 42"


async def test_download_reads_a_member_file_within_the_limit(fake: FakeTelegram, channel: TelegramChannel) -> None:
    update = fake.push_message(GROUP, "supergroup", 4201, "Alice", "see this", document=("plan.txt", b"ship it"))
    message_id = str(update["message"]["message_id"])
    file_id = update["message"]["document"]["file_id"]
    plan = Attachment("file", file_id, name="plan.txt")
    assert await channel.download(message_id, plan, max_bytes=100) == b"ship it"
    with pytest.raises(FileRefused, match=r"plan\.txt is 7 bytes, more than the 3 bytes I accept"):
        await channel.download(message_id, plan, max_bytes=3)
    with pytest.raises(ChannelError, match="FILE-missing"):
        await channel.download(message_id, Attachment("file", "FILE-missing"), max_bytes=100)


async def test_a_reply_with_files_sends_a_photo_and_a_document(
    fake: FakeTelegram, channel: TelegramChannel, tmp_path: Path
) -> None:
    asked(fake)
    picture, notes = tmp_path / "chart.png", tmp_path / "notes.txt"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    notes.write_text("1. ship it")
    files = (OutgoingFile(str(picture), "chart.png", "image"), OutgoingFile(str(notes), "notes.txt"))
    ref = await channel.send(replace(reply(GROUP, "**Here** they are"), files=files))
    assert len(ref.platform_message_ids) == 2
    photo, document = fake.sent[-2:]
    assert (photo.media, photo.text, photo.parse_mode) == ("photo", "Here they are", "HTML")  # the text: a caption
    assert (document.media, document.document_name, document.file_content) == ("document", "notes.txt",
                                                                              b"1. ship it")
    notes.unlink()
    with pytest.raises(SendFailed, match="gone") as gone:
        await channel.send(replace(reply(GROUP, ""), idempotency_key="k2", files=files[1:]))
    assert gone.value.permanent
