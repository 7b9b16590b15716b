"""The same message path on PostgreSQL (for larger deployments): migrations, dedupe, history, memory, jobs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from assistant.daemon import App
from assistant.messages import ChatKind, Inbound
from channels.console import ConsoleChannel
from tests.conftest import local_model
from tests.standins.model_server import ScriptedModelServer
from tests.standins.postgres import PostgresServer, postgres_bin, running_postgres

REPLY_TIMEOUT = 30.0


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    # Not skipped when missing: scripts/test.sh installs PostgreSQL, and a missing server must show as a failure.
    assert postgres_bin() is not None, "PostgreSQL is not installed: run scripts/test.sh (apt-get install postgresql)"
    with running_postgres() as server:
        yield server


async def _ask(console: ConsoleChannel, user: str, text: str, chat: str) -> str:
    mid = await console.say(user, text, chat=chat)
    return (await console.wait_reply(mid, REPLY_TIMEOUT)).text


async def test_the_message_path_works_on_postgres(postgres: PostgresServer, make_config: Any,
                                                  model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server)}, storage={"url": postgres.new_database()},
                         memory={"enabled": True}, scheduler={"enabled": True})
    console = ConsoleChannel()
    async with App(config, channels=[console], dashboard=False, status_file=False) as app:
        assert "4711" in await _ask(console, "alice", "remember that my locker code is 4711", "a-1")
        msg = Inbound(channel="console", chat_id="a-1", chat_kind=ChatKind.DIRECT, sender_id="alice",
                      sender_name="alice", text="again?", platform_message_id="dup-1", event_id="ev-1")
        assert await app.deliver(msg) is True and await app.deliver(msg) is False
        await console.wait_reply("dup-1", REPLY_TIMEOUT)
        async with app.services.db.session() as s:
            index = (await s.execute(text(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_inbound_platform_id'"))).scalar_one()
        assert "WHERE" in index and "'in'" in index  # partial, as on SQLite: only inbound ids are deduplicated
        jobs = await _ask(console, "alice", "/remind in 20 minutes call Bob", "a-1")
        assert "call Bob" in jobs
    console = ConsoleChannel()
    async with App(config, channels=[console], dashboard=False, status_file=False):
        await _ask(console, "alice", "what is my locker code?", "a-2")
        assert "call Bob" in await _ask(console, "alice", "/jobs", "a-2")
    last = json.dumps(model_server.requests[-1].body)
    assert "4711" in last  # recalled from long-term memory in a new session, after a restart
