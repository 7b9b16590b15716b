"""Feishu long-connection mode through lark-oapi's real ws client against the stand-in's websocket endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from assistant.errors import ChannelError
from assistant.messages import Inbound
from channels.feishu import FeishuChannel
from tests.standins.feishu_server import FakeFeishu, FeishuPusher, feishu_config

PUSHER = FeishuPusher("http://127.0.0.1:1/unused", "", "")


@pytest.fixture
def fake() -> Iterator[FakeFeishu]:
    with FakeFeishu() as platform:
        yield platform


def _event(text: str, chat_type: str = "p2p") -> dict:
    return PUSHER.message_event(chat_id="oc_dm", sender="ou_alice", text=text, chat_type=chat_type)


async def test_an_event_is_acked_only_after_it_was_stored(fake: FakeFeishu) -> None:
    got: list[Inbound] = []
    stored = asyncio.Event()

    async def deliver(msg: Inbound) -> bool:
        got.append(msg)
        stored.set()
        return True

    channel = FeishuChannel(feishu_config(fake, mode="ws"))
    await channel.start(deliver)
    try:
        assert channel.connected
        ack = await fake.ws.push(_event("hello over ws"))
        assert stored.is_set() and ack["code"] == 200
        assert [(m.text, m.chat_id, m.addressed) for m in got] == [("hello over ws", "oc_dm", True)]
        assert channel.last_event_at is not None
    finally:
        await channel.stop()
    assert not channel.connected


async def test_a_failed_store_is_answered_500_so_feishu_redelivers(fake: FakeFeishu) -> None:
    async def deliver(msg: Inbound) -> bool:
        raise RuntimeError("disk full")

    channel = FeishuChannel(feishu_config(fake, mode="ws"))
    await channel.start(deliver)
    try:
        ack = await fake.ws.push(_event("lost?"))
        assert ack["code"] == 500
    finally:
        await channel.stop()


async def test_a_silent_connection_is_replaced_and_events_flow_again(fake: FakeFeishu) -> None:
    got: list[Inbound] = []

    async def deliver(msg: Inbound) -> bool:
        got.append(msg)
        return True

    fake.ws.silent = True  # pings go unanswered: a half-open socket, as after a NAT timeout
    # The config floor is 30 s; the watchdog is the same code at any threshold.
    config = feishu_config(fake, mode="ws").model_copy(update={"ws_idle_reconnect_s": 0.5})
    channel = FeishuChannel(config)
    await channel.start(deliver)
    try:
        await asyncio.to_thread(fake.ws.wait_for_connections, 2, 10.0)
        fake.ws.silent = False
        ack = await fake.ws.push(_event("after the reconnect"))
        assert ack["code"] == 200 and [m.text for m in got] == ["after the reconnect"]
    finally:
        await channel.stop()


async def test_a_refused_long_connection_fails_start_and_cleans_up(fake: FakeFeishu) -> None:
    fake.ws.refuse = True
    channel = FeishuChannel(feishu_config(fake, mode="ws"))
    with pytest.raises(ChannelError, match="long connection refused"):
        await channel.start(lambda msg: asyncio.sleep(0, True))
    assert not channel.connected
