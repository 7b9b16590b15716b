"""Chat platform faults injected at the Telegram and Feishu stand-ins, through the whole daemon: a rate limit delays a
reply (delivered later, once), a 5xx is retried, a permanent 400 lands in the dead letters that ``teamclaw status
--json`` lists and an admin's /replay sends again."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from assistant.config import Config
from assistant.daemon import App
from assistant.messages import SentRef
from assistant.outbox import Queued
from assistant.storage.tables import Message
from tests.conftest import local_model
from tests.standins.feishu_server import ENCRYPT_KEY, VERIFICATION_TOKEN, FakeFeishu, FeishuPusher
from tests.standins.model_server import ScriptedModelServer
from tests.standins.telegram_server import FakeTelegram

WAIT = 20.0
GROUP, ALICE, OWNER = -1007770001, 4201, 9000


@dataclass
class Deliveries:
    """The outbox's sent hook: each reply the platform confirmed, as it happens."""

    sent: asyncio.Queue[tuple[Queued, SentRef]] = field(default_factory=asyncio.Queue)

    async def __call__(self, item: Queued, ref: SentRef) -> None:
        await self.sent.put((item, ref))

    async def next(self) -> Queued:
        return (await asyncio.wait_for(self.sent.get(), WAIT))[0]


async def _rows(app: App, direction: str = "out") -> list[Message]:
    async with app.services.db.session() as s:
        return list((await s.execute(select(Message).where(Message.direction == direction)
                                     .order_by(Message.id))).scalars().all())


def _status_json(config: Config) -> dict[str, Any]:
    """``teamclaw status --json`` as an operator runs it, beside the running daemon."""
    result = subprocess.run([sys.executable, "-m", "assistant.cli.main", "status", "--json", "--config",
                             str(config.data_dir / "teamclaw.toml")], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "TEAMCLAW_HOME": str(config.data_dir)}, check=False)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


# ---- Telegram -----------------------------------------------------------------------------------------------

@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def tg_app(make_config: Callable[..., Config], model_server: ScriptedModelServer,
                 telegram: FakeTelegram) -> AsyncIterator[tuple[App, Deliveries]]:
    config = make_config(
        models={"m": local_model(model_server)},
        team={"owners": [f"telegram:{OWNER}"]},
        access={"allowed_chats": [f"telegram:{GROUP}"]},
        channels={"telegram": {"enabled": True, "token": telegram.token, "base_url": telegram.base_url,
                               "base_file_url": telegram.base_file_url, "poll_timeout_s": 1}},
    )
    deliveries = Deliveries()
    async with App(config, dashboard=False, status_file=False) as app:
        app.services.outbox.sent_hooks.append(deliveries)
        yield app, deliveries


def _ask(fake: FakeTelegram, text: str, user: int = ALICE, name: str = "Alice") -> None:
    shown, entities = fake.mention_bot(text)
    fake.push_message(GROUP, "supergroup", user, name, shown, entities=entities, chat_title="Team")


async def test_telegram_429_delivers_the_reply_later_exactly_once(tg_app: tuple[App, Deliveries],
                                                                  telegram: FakeTelegram,
                                                                  model_server: ScriptedModelServer) -> None:
    app, deliveries = tg_app
    telegram.fail_next("sendMessage", error_code=429, retry_after=1)
    model_server.enqueue_text("the build is green")
    _ask(telegram, "how is the build?")
    await deliveries.next()
    [row] = await _rows(app)
    assert len(telegram.sent) == 1 and telegram.sent[0].text.endswith("the build is green")
    assert row.status == "sent" and row.attempts == 1  # a rate limit is a wait, not a failed attempt
    assert telegram.calls.count("sendMessage") == 2


async def test_telegram_5xx_is_retried_and_sent_once(tg_app: tuple[App, Deliveries], telegram: FakeTelegram,
                                                     model_server: ScriptedModelServer) -> None:
    app, deliveries = tg_app
    telegram.fail_next("sendMessage", error_code=502)
    model_server.enqueue_text("deploy finished")
    _ask(telegram, "did the deploy finish?")
    await deliveries.next()
    [row] = await _rows(app)
    assert len(telegram.sent) == 1 and telegram.sent[0].text.endswith("deploy finished")
    assert row.status == "sent" and row.attempts == 2


async def test_telegram_permanent_400_is_dead_lettered_shown_and_replayed_by_an_admin(
        tg_app: tuple[App, Deliveries], telegram: FakeTelegram, model_server: ScriptedModelServer) -> None:
    app, deliveries = tg_app
    telegram.fail_next("sendMessage", error_code=400, description="Bad Request: not enough rights to send")
    model_server.enqueue_text("the minutes are ready")
    _ask(telegram, "are the minutes ready?")
    [dead] = await _dead_letter(app)
    assert "not enough rights" in (dead.last_error or "").lower()
    report = await asyncio.to_thread(_status_json, app.config)
    assert report["queue"]["dead_letters"] == 1
    assert [d["id"] for d in report["dead_letters"]] == [dead.id]
    # A member may not replay; the owner may, from their direct chat.
    _ask(telegram, f"/replay {dead.id}")
    refused = await deliveries.next()
    assert "admins only" in refused.reply.text
    telegram.push_message(OWNER, "private", OWNER, "Owner", f"/replay {dead.id}")
    confirmations = [await deliveries.next(), await deliveries.next()]
    texts = sorted(item.reply.text for item in confirmations)
    assert texts == ["Queued for delivery again.", "the minutes are ready"]
    assert [m.text for m in telegram.sent if m.text.endswith("the minutes are ready")] != []
    assert len([m for m in telegram.sent if "minutes are ready" in m.text]) == 1
    assert (await asyncio.to_thread(_status_json, app.config))["queue"]["dead_letters"] == 0


class _GaveUp(logging.Handler):
    """Sets an event when the outbox dead-letters a reply (its one announcement of that moment)."""

    def __init__(self) -> None:
        super().__init__()
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "dead-lettered" in record.getMessage():
            self.event.set()


async def _dead_letter(app: App) -> list[Message]:
    """Wait for the outbox to give up on a reply; the dead-letter list is what an operator then sees."""
    watch = _GaveUp()
    outbox_log = logging.getLogger("assistant.outbox")
    outbox_log.addHandler(watch)
    try:
        if not await app.services.outbox.dead_letters():
            await asyncio.wait_for(watch.event.wait(), WAIT)
    finally:
        outbox_log.removeHandler(watch)
    return await app.services.outbox.dead_letters()


# ---- Feishu -------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def feishu() -> Iterator[FakeFeishu]:
    with FakeFeishu() as fake:
        fake.add_user("ou_alice", "Alice")
        yield fake


@pytest.fixture
async def fs_app(make_config: Callable[..., Config], model_server: ScriptedModelServer,
                 feishu: FakeFeishu) -> AsyncIterator[tuple[App, Deliveries, FeishuPusher]]:
    config = make_config(
        models={"m": local_model(model_server)},
        team={"owners": ["feishu:ou_owner"]},
        access={"allowed_chats": ["feishu:oc_team"]},
        channels={"feishu": {"enabled": True, "app_id": feishu.app_id, "app_secret": feishu.app_secret,
                             "domain": feishu.url, "mode": "webhook", "encrypt_key": ENCRYPT_KEY,
                             "verification_token": VERIFICATION_TOKEN, "webhook_port": _free_port()}},
    )
    deliveries = Deliveries()
    async with App(config, dashboard=False, status_file=False) as app:
        app.services.outbox.sent_hooks.append(deliveries)
        url = app.channels["feishu"].webhook_url  # type: ignore[attr-defined]
        yield app, deliveries, FeishuPusher(url, ENCRYPT_KEY, VERIFICATION_TOKEN, platform=feishu)


async def _fs_ask(pusher: FeishuPusher, text: str, sender: str = "ou_alice") -> None:
    body = pusher.message_event(chat_id="oc_team", sender=sender, text=f"@_user_1 {text}",
                                mentions=[("ou_bot", "teamclaw")])
    assert (await pusher.push(body)).status_code == 200


@pytest.mark.parametrize("fault", [{"code": 230020, "http_status": 400},
                                   {"http_status": 429, "code": 99991400}], ids=["230020", "http429"])
async def test_feishu_rate_limit_delivers_later_exactly_once(fs_app: tuple[App, Deliveries, FeishuPusher],
                                                             feishu: FakeFeishu, model_server: ScriptedModelServer,
                                                             fault: dict[str, Any]) -> None:
    app, deliveries, pusher = fs_app
    feishu.fail_next("/reply", reset=0.2, msg="request trigger frequency limit", **fault)
    model_server.enqueue_text("lunch is at noon")
    await _fs_ask(pusher, "when is lunch?")
    await deliveries.next()
    [row] = await _rows(app)
    assert [m.text for m in feishu.sent if "lunch is at noon" in m.text] != []
    assert len(feishu.sent) == 1 and row.status == "sent"
    assert len([r for r in feishu.requests if r[1].endswith("/reply")]) == 2


async def test_feishu_5xx_is_retried_once_more_and_sent_once(fs_app: tuple[App, Deliveries, FeishuPusher],
                                                             feishu: FakeFeishu,
                                                             model_server: ScriptedModelServer) -> None:
    app, deliveries, pusher = fs_app
    feishu.fail_next("/reply", http_status=503, code=1, msg="service unavailable")
    model_server.enqueue_text("the office is open")
    await _fs_ask(pusher, "is the office open?")
    await deliveries.next()
    [row] = await _rows(app)
    assert len(feishu.sent) == 1 and row.status == "sent" and row.attempts == 2


async def test_feishu_permanent_400_is_dead_lettered_and_replayed_by_the_owner(
        fs_app: tuple[App, Deliveries, FeishuPusher], feishu: FakeFeishu,
        model_server: ScriptedModelServer) -> None:
    app, deliveries, pusher = fs_app
    feishu.fail_next("/reply", http_status=400, code=230002, msg="Bot/User can NOT be out of the chat.")
    model_server.enqueue_text("the report is attached")
    await _fs_ask(pusher, "where is the report?")
    [dead] = await _dead_letter(app)
    report = await asyncio.to_thread(_status_json, app.config)
    assert report["dead_letters"][0]["id"] == dead.id and "230002" in report["dead_letters"][0]["error"]
    feishu.add_user("ou_owner", "Owner")
    await _fs_ask(pusher, f"/replay {dead.id}", sender="ou_owner")
    texts = sorted([(await deliveries.next()).reply.text, (await deliveries.next()).reply.text])
    assert texts == ["Queued for delivery again.", "the report is attached"]
    assert len([m for m in feishu.sent if "report is attached" in m.text]) == 1
