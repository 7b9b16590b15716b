"""Webhook mode: setWebhook with a secret, and an endpoint that stores before it answers and refuses forgeries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from assistant.config import TelegramConfig
from channels.telegram import TelegramChannel
from tests.standins.telegram_server import FakeTelegram, RecordingDeliver

GROUP = -1001234567890
SECRET = "s3cr3t-token_for-tests"


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def webhook_config(fake: FakeTelegram, secret: str | None = SECRET) -> TelegramConfig:
    return TelegramConfig.model_validate({
        "enabled": True, "token": fake.token, "token_env": None, "base_url": fake.base_url,
        "base_file_url": fake.base_file_url, "mode": "webhook", "webhook_url": "https://bot.example.org/telegram/hook",
        "webhook_secret": secret, "webhook_port": 0,
    })


class Webhook:
    def __init__(self, fake: FakeTelegram, channel: TelegramChannel, deliver: RecordingDeliver) -> None:
        self.fake = fake
        self.channel = channel
        self.deliver = deliver

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.channel.webhook_port}/telegram/hook"

    async def post(self, update: dict[str, Any] | bytes, **kwargs: Any) -> int:
        return await self.fake.post_webhook(update, url=self.url, **kwargs)


@pytest.fixture
async def hook(fake: FakeTelegram) -> AsyncIterator[Webhook]:
    deliver = RecordingDeliver()
    channel = TelegramChannel(webhook_config(fake))
    await channel.start(deliver)
    try:
        yield Webhook(fake, channel, deliver)
    finally:
        await channel.stop()


def mention(fake: FakeTelegram, text: str) -> dict[str, Any]:
    return fake.message_update(GROUP, "supergroup", 4201, "Alice", f"@teamclaw_bot {text}")


async def test_start_registers_the_webhook_with_its_secret(fake: FakeTelegram, hook: Webhook) -> None:
    assert fake.webhook_url == "https://bot.example.org/telegram/hook"
    assert fake.webhook_secret == SECRET
    assert not fake.drop_pending_requested
    assert "getUpdates" not in fake.calls


async def test_update_with_the_right_secret_is_delivered(fake: FakeTelegram, hook: Webhook) -> None:
    assert await hook.post(mention(fake, "what is due today?")) == 200
    [inbound] = hook.deliver.received
    assert inbound.text == "what is due today?" and inbound.addressed


@pytest.mark.parametrize("secret", ["wrong-secret", None])
async def test_without_the_right_secret_nothing_changes(fake: FakeTelegram, hook: Webhook, secret: str | None) -> None:
    update = mention(fake, "forged")
    if secret is None:
        status = await hook.post(update, use_registered_secret=False)
    else:
        status = await hook.post(update, secret_token=secret)
    assert status == 403
    assert hook.deliver.received == []


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "x"}'])
async def test_malformed_bodies_are_refused(hook: Webhook, body: bytes) -> None:
    assert await hook.post(body) == 400
    assert hook.deliver.received == []


async def test_answer_comes_only_after_the_update_was_stored(fake: FakeTelegram) -> None:
    release = asyncio.Event()
    deliver = RecordingDeliver(hold=release)
    channel = TelegramChannel(webhook_config(fake))
    await channel.start(deliver)
    try:
        hook = Webhook(fake, channel, deliver)
        posting = asyncio.create_task(hook.post(mention(fake, "store me")))
        await asyncio.wait_for(deliver.entered.wait(), 5)
        assert not posting.done()  # Telegram is still waiting for its 200
        release.set()
        assert await asyncio.wait_for(posting, 5) == 200
    finally:
        await channel.stop()


async def test_failed_store_answers_500_so_telegram_redelivers(fake: FakeTelegram) -> None:
    deliver = RecordingDeliver(fail_times=1)
    channel = TelegramChannel(webhook_config(fake))
    await channel.start(deliver)
    try:
        hook = Webhook(fake, channel, deliver)
        update = mention(fake, "again")
        assert await hook.post(update) == 500
        assert await hook.post(update) == 200
    finally:
        await channel.stop()
    assert [i.platform_message_id for i in deliver.received] == [str(update["message"]["message_id"])] * 2


async def test_without_a_configured_secret_one_is_generated(fake: FakeTelegram) -> None:
    deliver = RecordingDeliver()
    channel = TelegramChannel(webhook_config(fake, secret=None))
    await channel.start(deliver)
    try:
        assert fake.webhook_secret and len(fake.webhook_secret) >= 32
        hook = Webhook(fake, channel, deliver)
        assert await hook.post(mention(fake, "hi")) == 200
        assert await hook.post(mention(fake, "hi"), secret_token="") == 403
    finally:
        await channel.stop()
