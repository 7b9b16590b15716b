"""One receiver per bot or app across processes, on one PostgreSQL: two Telegram channels (the real PTB Bot against
the stand-in) where only the holder of the receiver lease polls and the other takes over on a clean stop or a stall;
two Feishu channels where only the holder opens the long connection (lark-oapi's real ws client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from assistant.config import TelegramConfig
from assistant.leases import Leader, Leases, read_leases
from assistant.messages import Inbound
from assistant.storage.db import Database
from channels.feishu import FeishuChannel
from channels.telegram import TelegramChannel
from tests.standins.feishu_server import FakeFeishu, FeishuPusher, feishu_config
from tests.standins.postgres import PostgresServer, postgres_bin, running_postgres
from tests.standins.telegram_server import FakeTelegram, RecordingDeliver

GROUP = -1001234567890
WAIT_S = 15.0


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    assert postgres_bin() is not None, "PostgreSQL is not installed: run scripts/test.sh (apt-get install postgresql)"
    with running_postgres() as server:
        yield server


@pytest.fixture
async def db(postgres: PostgresServer) -> AsyncIterator[Database]:
    database = Database(postgres.new_database())
    await database.migrate()
    yield database
    await database.aclose()


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


class _Announcing(Leader):
    """The real leader lease, telling the test when this process leads."""

    def __init__(self, leases: Leases) -> None:
        super().__init__(leases, "receiver:telegram")
        self.leads = asyncio.Event()

    async def wait(self) -> None:
        await super().wait()
        self.leads.set()


def _channel(fake: FakeTelegram, leader: Leader) -> TelegramChannel:
    config: dict[str, Any] = {"enabled": True, "token": fake.token, "token_env": None, "base_url": fake.base_url,
                              "base_file_url": fake.base_file_url, "poll_timeout_s": 1}
    channel = TelegramChannel(TelegramConfig.model_validate(config))
    assert channel.receive_as_leader(leader) is True
    return channel


def _say(fake: FakeTelegram, text: str) -> None:
    fake.push_message(GROUP, "supergroup", 4201, "Alice", f"@teamclaw_bot {text}")


async def _texts(deliver: RecordingDeliver, count: int) -> list[str]:
    async with asyncio.timeout(WAIT_S):
        return [i.text for i in await deliver.wait_for(count)]


async def test_only_the_leader_polls_and_a_clean_stop_hands_over_at_once(db: Database, fake: FakeTelegram) -> None:
    first_leases, second_leases = Leases(db, ttl_s=30), Leases(db, ttl_s=30)
    await first_leases.start()
    await second_leases.start()
    first = _channel(fake, Leader(first_leases, "receiver:telegram"))
    second = _channel(fake, Leader(second_leases, "receiver:telegram"))
    first_got, second_got = RecordingDeliver(), RecordingDeliver()
    try:
        await first.start(first_got)
        await second.start(second_got)
        _say(fake, "one")
        assert await _texts(first_got, 1) == ["one"]
        assert [lease.holder for lease in await read_leases(db)] == [first_leases.holder]
        await first.stop()  # steps down: the standby needs no lease time to take over
        _say(fake, "two")
        assert await _texts(second_got, 1) == ["two"]
        assert [i.text for i in first_got.received] == ["one"] and len(second_got.received) == 1
    finally:
        await first.stop()
        await second.stop()
        await first_leases.aclose()
        await second_leases.aclose()


async def test_a_stalled_leader_is_replaced_and_stops_polling(db: Database, fake: FakeTelegram) -> None:
    stalled = Leases(db, ttl_s=1.0)  # not started: it renews nothing, as a process whose loop hangs
    standby = Leases(db, ttl_s=1.0)
    await standby.start()
    stalled_leader = Leader(stalled, "receiver:telegram")
    standby_leader = _Announcing(standby)
    first, second = _channel(fake, stalled_leader), _channel(fake, standby_leader)
    first_got, second_got = RecordingDeliver(), RecordingDeliver()
    try:
        await first.start(first_got)
        _say(fake, "one")
        assert await _texts(first_got, 1) == ["one"]
        await second.start(second_got)
        async with asyncio.timeout(WAIT_S):
            await standby_leader.leads.wait()  # the stalled one renewed nothing for a lease time
            await stalled.start()  # its loop runs again: the renewal finds the lease taken...
            await stalled_leader.lost.wait()  # ...and its poller stands by
        _say(fake, "two")
        assert await _texts(second_got, 1) == ["two"]
        assert [i.text for i in first_got.received] == ["one"]
    finally:
        await first.stop()
        await second.stop()
        await stalled.aclose()
        await standby.aclose()


async def test_only_the_leader_holds_the_feishu_long_connection(db: Database) -> None:
    first_leases, second_leases = Leases(db, ttl_s=30), Leases(db, ttl_s=30)
    await first_leases.start()
    await second_leases.start()
    pusher = FeishuPusher("http://127.0.0.1:1/unused", "", "")
    got: dict[str, list[str]] = {"first": [], "second": []}

    def deliver_to(name: str) -> Any:
        async def deliver(msg: Inbound) -> bool:
            got[name].append(msg.text)
            return True
        return deliver

    with FakeFeishu() as platform:
        channels = []
        for leases in (first_leases, second_leases):
            channel = FeishuChannel(feishu_config(platform, mode="ws"))
            assert channel.receive_as_leader(Leader(leases, "receiver:feishu")) is True
            channels.append(channel)
        first, second = channels
        try:
            await first.start(deliver_to("first"))
            await asyncio.to_thread(platform.ws.wait_for_connections, 1, WAIT_S)
            await second.start(deliver_to("second"))  # returns at once: it stands by
            event = pusher.message_event(chat_id="oc_dm", sender="ou_alice", text="one", chat_type="p2p")
            assert (await platform.ws.push(event))["code"] == 200
            assert got == {"first": ["one"], "second": []} and platform.ws.connection_count == 1
            await first.stop()  # steps down: the standby connects
            await asyncio.to_thread(platform.ws.wait_for_connections, 2, WAIT_S)
            event = pusher.message_event(chat_id="oc_dm", sender="ou_alice", text="two", chat_type="p2p")
            assert (await platform.ws.push(event))["code"] == 200
            assert got == {"first": ["one"], "second": ["two"]}
        finally:
            await first.stop()
            await second.stop()
            await first_leases.aclose()
            await second_leases.aclose()
