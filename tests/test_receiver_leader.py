"""One poller per bot across processes: two Telegram channels on one PostgreSQL through the real PTB Bot against the
stand-in; only the holder of the receiver lease polls, and the other takes over on a clean stop or a stall."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from assistant.config import TelegramConfig
from assistant.leases import Leader, Leases, read_leases
from assistant.storage.db import Database
from channels.telegram import TelegramChannel
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
