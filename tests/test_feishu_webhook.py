"""Feishu webhook mode: encrypted, signed events reach deliver once; every forged or broken request changes nothing."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from lark_oapi.core.utils import AESCipher
from sqlalchemy import select

from assistant.errors import ConfigError, VerificationFailed
from assistant.inbox import Inbox
from assistant.messages import Inbound
from assistant.storage.db import Database
from assistant.storage.tables import Message
from channels.base import Channel, EditsMessages, Reacts
from channels.feishu import FeishuChannel, WebhookVerifier
from channels.feishu.webhook import MAX_BODY_BYTES
from tests.standins.feishu_server import (
    ENCRYPT_KEY,
    VERIFICATION_TOKEN,
    FakeFeishu,
    FeishuPusher,
    encrypt_body,
    feishu_config,
    sign_body,
)


@dataclass
class Recorder:
    """Stands where the inbox stands: records what was delivered."""

    got: list[Inbound] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event | None = None
    fail: bool = False

    async def __call__(self, msg: Inbound) -> bool:
        self.arrived.set()
        if self.release is not None:
            await self.release.wait()
        if self.fail:
            raise RuntimeError("disk full")
        self.got.append(msg)
        return True


@pytest.fixture
def fake() -> Iterator[FakeFeishu]:
    with FakeFeishu() as platform:
        platform.add_user("ou_alice", "Alice")
        yield platform


@pytest.fixture
async def channel(fake: FakeFeishu) -> AsyncIterator[tuple[FeishuChannel, Recorder, FeishuPusher]]:
    recorder = Recorder()
    adapter = FeishuChannel(feishu_config(fake))
    await adapter.start(recorder)
    assert adapter.webhook_url is not None
    try:
        yield adapter, recorder, FeishuPusher(adapter.webhook_url, ENCRYPT_KEY, VERIFICATION_TOKEN, platform=fake)
    finally:
        await adapter.stop()


def test_official_decryption_vector_and_our_encryption_round_trip() -> None:
    assert AESCipher("test key").decrypt_str("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=") == "hello world"
    assert AESCipher("test key").decrypt_str(encrypt_body(b"hello world", "test key")) == "hello world"


def test_the_adapter_implements_its_protocols(fake: FakeFeishu) -> None:
    adapter = FeishuChannel(feishu_config(fake))
    assert isinstance(adapter, Channel) and isinstance(adapter, Reacts) and isinstance(adapter, EditsMessages)


async def test_valid_event_is_delivered_once_with_the_sender_name(channel: tuple) -> None:
    adapter, recorder, pusher = channel
    body = pusher.message_event(chat_id="oc_team", sender="ou_alice", text="@_user_1 status?",
                                mentions=[("ou_bot", "teamclaw")], event_id="ev_1", message_id="om_1")
    response = await pusher.push(body)
    assert response.status_code == 200
    assert [(m.text, m.sender_name, m.event_id, m.platform_message_id, m.addressed) for m in recorder.got] == [
        ("status?", "Alice", "ev_1", "om_1", True)]
    assert adapter.bot_open_id == "ou_bot" and adapter.last_event_at is not None and adapter.connected


async def test_the_200_waits_until_deliver_has_stored_the_event(channel: tuple) -> None:
    _, recorder, pusher = channel
    recorder.release = asyncio.Event()
    push = asyncio.create_task(pusher.push(pusher.message_event(chat_id="oc_team", sender="ou_alice", text="hi")))
    await asyncio.wait_for(recorder.arrived.wait(), 5)
    assert not push.done()  # deliver has not returned, so Feishu has no answer yet
    recorder.release.set()
    assert (await asyncio.wait_for(push, 5)).status_code == 200
    assert len(recorder.got) == 1


async def test_a_failed_store_is_not_acknowledged(channel: tuple) -> None:
    _, recorder, pusher = channel
    recorder.fail = True
    response = await pusher.push(pusher.message_event(chat_id="oc_team", sender="ou_alice", text="hi"))
    assert response.status_code == 500  # Feishu redelivers; the inbox dedupes the second arrival


async def test_url_verification_answers_the_challenge(channel: tuple) -> None:
    _, recorder, pusher = channel
    ok = await pusher.url_verification("chal-123")
    wrong = await pusher.url_verification("chal-456", token="guess")
    assert ok.status_code == 200 and ok.json() == {"challenge": "chal-123"}
    assert wrong.status_code == 401 and "chal-456" not in wrong.text
    assert recorder.got == []


async def test_forged_and_broken_requests_are_rejected_and_change_nothing(channel: tuple) -> None:
    _, recorder, pusher = channel

    def body() -> dict:
        return pusher.message_event(chat_id="oc_team", sender="ou_alice", text="@_user_1 wire money",
                                    mentions=[("ou_bot", "teamclaw")])

    not_encrypted = json.dumps(body()).encode()
    garbage_cipher = json.dumps({"encrypt": base64.b64encode(b"0" * 48).decode()}).encode()
    huge = json.dumps({"encrypt": "A" * (MAX_BODY_BYTES + 10)}).encode()
    attempts = {
        "forged signature": (await pusher.push(body(), forge_signature=True), 401),
        "no signature": (await pusher.push(body(), sign=False), 401),
        "wrong token": (await pusher.push(body(), token="guess"), 401),
        "stale timestamp": (await pusher.push(body(), timestamp=int(time.time()) - 3600), 401),
        "future timestamp": (await pusher.push(body(), timestamp=int(time.time()) + 3600), 401),
        "wrong encrypt key": (await pusher.push(body(), encrypt_key="other-key"), 400),
        "malformed json": (await pusher.push(body(), raw=b"{not json"), 400),
        "plaintext body": (await pusher.push(body(), raw=not_encrypted), 401),
        "garbage ciphertext": (await pusher.push(body(), raw=garbage_cipher), 400),
        "huge body": (await pusher.push(body(), raw=huge), 413),
    }
    assert {name: r.status_code for name, (r, _) in attempts.items()} == {
        name: status for name, (_, status) in attempts.items()}
    assert recorder.got == [] and not recorder.arrived.is_set()


async def test_unknown_event_types_are_acknowledged_without_delivery(channel: tuple) -> None:
    _, recorder, pusher = channel
    body = pusher.message_event(chat_id="oc_team", sender="ou_alice", text="x")
    body["header"]["event_type"] = "im.message.message_read_v1"
    assert (await pusher.push(body)).status_code == 200
    assert recorder.got == []


def test_verifier_uses_the_request_timestamp_window() -> None:
    now = [1_700_000_000.0]
    verifier = WebhookVerifier(encrypt_key=ENCRYPT_KEY, verification_token=VERIFICATION_TOKEN, replay_window_s=300,
                               clock=lambda: now[0])
    pusher = FeishuPusher("http://127.0.0.1:1/x", ENCRYPT_KEY, VERIFICATION_TOKEN)
    raw = json.dumps({"encrypt": encrypt_body(json.dumps(pusher.message_event(chat_id="c", sender="s")).encode(),
                                              ENCRYPT_KEY)}).encode()
    headers = {"x-lark-request-timestamp": str(int(now[0]) - 299), "x-lark-request-nonce": "n",
               "x-lark-signature": sign_body(str(int(now[0]) - 299), "n", ENCRYPT_KEY, raw)}
    assert verifier.open(headers, raw)["event"]["message"]["chat_id"] == "c"
    now[0] += 2
    with pytest.raises(VerificationFailed, match="replay window"):
        verifier.open(headers, raw)


async def test_webhook_mode_refuses_to_start_without_keys(fake: FakeFeishu) -> None:
    adapter = FeishuChannel(feishu_config(fake, encrypt_key=None))
    with pytest.raises(ConfigError, match="encrypt_key"):
        await adapter.start(Recorder())


async def test_redelivered_and_resent_events_are_stored_once_by_the_real_inbox(fake: FakeFeishu,
                                                                               tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'inbox.db'}")
    await db.migrate()
    inbox = Inbox(db)
    accepted: list[bool] = []

    async def deliver(msg: Inbound) -> bool:
        accepted.append(await inbox.accept(msg) is not None)
        return accepted[-1]

    adapter = FeishuChannel(feishu_config(fake))
    await adapter.start(deliver)
    try:
        pusher = FeishuPusher(adapter.webhook_url or "", ENCRYPT_KEY, VERIFICATION_TOKEN, platform=fake)
        body = pusher.message_event(chat_id="oc_team", sender="ou_alice", text="@_user_1 deploy?",
                                    mentions=[("ou_bot", "teamclaw")], event_id="ev_1", message_id="om_1")
        first = await pusher.push(body)
        redelivered = await pusher.push(body)  # no 200 seen in time: Feishu sends the same event again
        resent = dict(body, header=dict(body["header"], event_id="ev_2"))  # after a reconnect: new event id
        again = await pusher.push(resent)
    finally:
        await adapter.stop()
    async with db.session() as s:
        rows = (await s.execute(select(Message).where(Message.channel == "feishu"))).scalars().all()
    await db.aclose()
    assert [r.status_code for r in (first, redelivered, again)] == [200, 200, 200]  # duplicates are acked too
    assert accepted == [True, False, False]
    assert [(r.platform_message_id, r.event_id, r.text) for r in rows] == [("om_1", "ev_1", "deploy?")]
