"""Long polling through the real PTB Bot against the stand-in: in order, acknowledged only once stored."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from assistant.config import TelegramConfig
from assistant.errors import ConfigError
from assistant.messages import Reply
from channels.telegram import TelegramChannel
from tests.standins.telegram_server import FakeTelegram, RecordingDeliver

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


@pytest.fixture
async def channel(fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    adapter = TelegramChannel(config_for(fake))
    try:
        yield adapter
    finally:
        await adapter.stop()


def say(fake: FakeTelegram, text: str, *, user: int = 4201, name: str = "Alice") -> int:
    return int(fake.push_message(GROUP, "supergroup", user, name, text)["update_id"])


async def test_pending_updates_arrive_in_order_and_are_confirmed_after_delivery(
    fake: FakeTelegram, channel: TelegramChannel
) -> None:
    first = say(fake, "@teamclaw_bot one")  # waiting before the bot starts: must not be dropped
    say(fake, "two", user=4202, name="Bob")
    deliver = RecordingDeliver()
    await channel.start(deliver)
    last = say(fake, "/status")

    received = await deliver.wait_for(3)
    await fake.wait_for_confirmed(last)

    assert [i.text for i in received] == ["one", "two", "/status"]
    assert [i.addressed for i in received] == [True, False, True]
    assert [i.event_id for i in received] == [str(first), str(first + 1), str(last)]
    assert channel.bot_username == "teamclaw_bot"
    assert not fake.drop_pending_requested
    assert fake.calls[:2] == ["getMe", "deleteWebhook"]


async def test_offset_moves_only_after_deliver_returned(fake: FakeTelegram, channel: TelegramChannel) -> None:
    release = asyncio.Event()
    deliver = RecordingDeliver(hold=release)
    first = say(fake, "@teamclaw_bot store me first")
    await channel.start(deliver)
    await asyncio.wait_for(deliver.entered.wait(), 5)
    second = say(fake, "and me")

    # While the first update is being stored, Telegram has not been told it arrived, and nothing more is fetched.
    assert fake.confirmed_offset <= first
    assert first in fake.pending_updates
    assert len(deliver.received) == 1

    release.set()
    await fake.wait_for_confirmed(second)
    assert [i.event_id for i in deliver.received] == [str(first), str(second)]


async def test_update_whose_delivery_failed_is_fetched_again(fake: FakeTelegram, channel: TelegramChannel) -> None:
    deliver = RecordingDeliver(fail_times=1)
    update_id = say(fake, "@teamclaw_bot remember the deploy window")
    await channel.start(deliver)

    received = await deliver.wait_for(2)
    await fake.wait_for_confirmed(update_id)
    assert [i.event_id for i in received] == [str(update_id), str(update_id)]
    assert received[0] == received[1]


async def test_restart_after_a_failed_store_loses_nothing(fake: FakeTelegram) -> None:
    update_id = say(fake, "@teamclaw_bot book the room")
    broken = RecordingDeliver(fail_times=1_000)
    first = TelegramChannel(config_for(fake))
    await first.start(broken)
    await broken.wait_for(2)  # fetched, not stored, fetched again: never confirmed meanwhile
    await first.stop()  # the process goes down before the message was stored
    assert update_id in fake.pending_updates

    deliver = RecordingDeliver()
    second = TelegramChannel(config_for(fake))
    await second.start(deliver)
    try:
        [inbound] = await deliver.wait_for(1)
        await fake.wait_for_confirmed(update_id)
    finally:
        await second.stop()
    assert inbound.text == "book the room"


async def test_conflict_is_logged_clearly_and_polling_goes_on(
    fake: FakeTelegram, channel: TelegramChannel, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("getUpdates", error_code=409)
    fake.fail_next("getUpdates", error_code=502)
    deliver = RecordingDeliver()
    with caplog.at_level(logging.WARNING, logger="channels.telegram"):
        await channel.start(deliver)
        say(fake, "@teamclaw_bot still there?")
        [inbound] = await deliver.wait_for(1)
    assert inbound.text == "still there?"
    assert any("409 Conflict" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)


async def test_group_migration_is_reported_and_later_sends_follow_it(fake: FakeTelegram) -> None:
    old, new = -4001, -1004001
    fake.push_message(old, "group", 4201, "Alice", "hello")
    migrations: list[tuple[str, str]] = []

    async def migrated(old_id: str, new_id: str) -> None:
        migrations.append((old_id, new_id))

    channel = TelegramChannel(config_for(fake), on_chat_migrated=migrated)
    deliver = RecordingDeliver()
    await channel.start(deliver)
    try:
        await deliver.wait_for(1)
        fake.migrate_chat(old, new, announce=True)
        marker = say(fake, "after the migration")
        await deliver.wait_for(2)
        await fake.wait_for_confirmed(marker)
        assert migrations == [(str(old), str(new))]
        await channel.send(Reply(channel="telegram", chat_id=str(old), text="moved", idempotency_key="m1"))
    finally:
        await channel.stop()
    assert [(m.chat_id, m.text) for m in fake.sent] == [(new, "moved")]
    assert fake.calls.count("sendMessage") == 1  # no detour through the old id


async def test_wrong_token_fails_start_with_a_config_error(fake: FakeTelegram) -> None:
    channel = TelegramChannel(config_for(fake, token="1:wrong"))
    with pytest.raises(ConfigError, match="token"):
        await channel.start(RecordingDeliver())
    await channel.stop()


async def test_missing_token_is_a_config_error() -> None:
    channel = TelegramChannel(TelegramConfig(enabled=True, token=None, token_env=None))
    with pytest.raises(ConfigError, match=r"channels\.telegram\.token"):
        await channel.start(RecordingDeliver())
