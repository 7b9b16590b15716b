"""Bad input at the daemon's webhook endpoints over real HTTP: the Feishu event endpoint and the Telegram webhook,
both served by a running App on a real database. Malformed JSON, wrong types, huge bodies (declared and chunked),
invalid UTF-8, deep nesting, forged and replayed signatures each get a clear 4xx; unknown event types are
acknowledged (a 4xx would only make the platform send them again) and ignored; a replayed genuine event is stored
once. Afterwards the messages and seen_events tables hold exactly what the genuine events put there.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.config import Config, load_config
from assistant.daemon import App
from tests.conftest import local_model, write_config
from tests.standins.feishu_server import (
    ENCRYPT_KEY,
    VERIFICATION_TOKEN,
    FakeFeishu,
    FeishuPusher,
    encrypt_body,
    sign_body,
)
from tests.standins.model_server import ScriptedModelServer
from tests.standins.telegram_server import FakeTelegram

TG_SECRET = "webhook-secret-for-fuzzing_01"
TG_PATH = "/telegram/hook"
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
HUGE = 1_000_000 + 10

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=15)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppThread:
    """The daemon on its own event loop in a thread, so synchronous hypothesis tests can talk HTTP to it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.app: App | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="app-under-fuzz", daemon=True)

    def __enter__(self) -> App:
        self._thread.start()
        assert self._ready.wait(60), "the app did not start"
        if self._error is not None:
            raise self._error
        assert self.app is not None
        return self.app

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced in __enter__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with App(self.config, dashboard=False, status_file=False) as app:
            self.app = app
            self._ready.set()
            await self._stop.wait()


@dataclass
class Endpoints:
    feishu: str
    telegram: str
    pusher: FeishuPusher
    db: Path
    fake_tg: FakeTelegram

    def rows(self) -> tuple[int, int]:
        with sqlite3.connect(self.db) as conn:
            messages = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
            seen = conn.execute("SELECT count(*) FROM seen_events").fetchone()[0]
        return int(messages), int(seen)


@pytest.fixture
def endpoints(tmp_path: Path) -> Iterator[Endpoints]:
    with ScriptedModelServer() as model, FakeFeishu() as feishu, FakeTelegram() as telegram:
        home = tmp_path / "home"
        path = write_config(home, {
            "models": {"m": local_model(model)},
            "channels": {
                "feishu": {"enabled": True, "app_id": feishu.app_id, "app_secret": feishu.app_secret,
                           "domain": feishu.url, "mode": "webhook", "encrypt_key": ENCRYPT_KEY,
                           "verification_token": VERIFICATION_TOKEN, "webhook_port": _free_port()},
                "telegram": {"enabled": True, "token": telegram.token, "base_url": telegram.base_url,
                             "base_file_url": telegram.base_file_url, "mode": "webhook",
                             "webhook_url": f"https://bot.example.org{TG_PATH}", "webhook_secret": TG_SECRET,
                             "webhook_port": 0},
            },
        })
        with AppThread(load_config(path)) as app:
            feishu_url = app.channels["feishu"].webhook_url  # type: ignore[attr-defined]
            tg_port = app.channels["telegram"].webhook_port  # type: ignore[attr-defined]
            yield Endpoints(feishu_url, f"http://127.0.0.1:{tg_port}{TG_PATH}",
                            FeishuPusher(feishu_url, ENCRYPT_KEY, VERIFICATION_TOKEN, platform=feishu),
                            home / "teamclaw.db", telegram)


def _signed_headers(raw: bytes, *, timestamp: int | None = None, key: str = ENCRYPT_KEY) -> dict[str, str]:
    stamp, nonce = str(int(time.time()) if timestamp is None else timestamp), secrets.token_hex(8)
    return {"Content-Type": "application/json", "X-Lark-Request-Timestamp": stamp, "X-Lark-Request-Nonce": nonce,
            "X-Lark-Signature": sign_body(stamp, nonce, key, raw)}


def _encrypted(body: Any) -> bytes:
    return json.dumps({"encrypt": encrypt_body(json.dumps(body).encode(), ENCRYPT_KEY)}).encode()


def _chunked(data: bytes, piece: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start:start + piece]


# ---- Feishu -------------------------------------------------------------------------------------------------

def test_feishu_endpoint_rejects_bad_requests_and_stores_nothing(endpoints: Endpoints) -> None:
    url = endpoints.feishu
    deep = b"[" * 200_000 + b"]" * 200_000
    genuine = endpoints.pusher.message_event(chat_id="oc_x", sender="ou_a", text="@_user_1 hi",
                                             mentions=[("ou_bot", "bot")], event_id="ev_ok", message_id="om_ok")
    unknown = dict(genuine, header=dict(genuine["header"], event_type="im.chat.disbanded_v1", event_id="ev_unk"))
    stale = _encrypted(genuine)
    cases: dict[str, tuple[bytes | Iterator[bytes], dict[str, str], int]] = {
        "malformed json": (b'{"encrypt": ', _signed_headers(b'{"encrypt": '), 400),
        "json array": (b"[1, 2]", _signed_headers(b"[1, 2]"), 400),
        "encrypt not a string": (b'{"encrypt": 5}', _signed_headers(b'{"encrypt": 5}'), 401),
        "invalid utf-8": (b'{"encrypt": "\xff\xfe\xfd"}', {}, 400),
        "deep nesting": (deep, _signed_headers(deep), 400),
        "deep nesting inside the ciphertext": (
            (inner := json.dumps({"encrypt": encrypt_body(deep, ENCRYPT_KEY)}).encode()),
            _signed_headers(inner), 400),
        "huge declared": (b"x" * HUGE, {}, 413),
        "huge chunked": (_chunked(b"x" * HUGE), {}, 413),
        "forged signature": (stale, _signed_headers(stale, key="guessed-key"), 401),
        "replayed outside the window": (stale, _signed_headers(stale, timestamp=int(time.time()) - 3600), 401),
        "no signature": (stale, {"Content-Type": "application/json"}, 401),
        "wrong token": ((wt := _encrypted({**genuine, "header": {**genuine["header"], "token": "nope"}})),
                        _signed_headers(wt), 401),
    }
    answers = {}
    with httpx.Client(timeout=30) as client:
        for name, (body, headers, _) in cases.items():
            answers[name] = client.post(url, content=body, headers=headers).status_code
        assert answers == {name: status for name, (_, _, status) in cases.items()}
        assert endpoints.rows() == (0, 0)
        # Authentic but unknown: acknowledged and ignored. Authentic and replayed inside the window: stored once.
        unknown_raw = _encrypted(unknown)
        assert client.post(url, content=unknown_raw, headers=_signed_headers(unknown_raw)).status_code == 200
        assert endpoints.rows() == (0, 0)
        raw = _encrypted(genuine)
        headers = _signed_headers(raw)
        assert [client.post(url, content=raw, headers=headers).status_code for _ in range(3)] == [200, 200, 200]
    assert endpoints.rows() == (1, 1)


@FUZZ
@given(raw=st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()),
       sign=st.booleans())
def test_feishu_endpoint_answers_any_body_with_a_4xx(endpoints: Endpoints, raw: bytes, sign: bool) -> None:
    headers = _signed_headers(raw) if sign else {"Content-Type": "application/json"}
    status = httpx.post(endpoints.feishu, content=raw, headers=headers, timeout=30).status_code
    assert status in (400, 401), status
    assert endpoints.rows() == (0, 0)


@FUZZ
@given(body=json_values)
def test_feishu_authentic_garbage_is_acknowledged_or_refused_never_stored(endpoints: Endpoints, body: Any) -> None:
    # Signed, encrypted and carrying the right token, but not a message event: nothing to store.
    if isinstance(body, dict):
        body = {**body, "schema": "2.0", "header": {"token": VERIFICATION_TOKEN, "event_type": body.get("x", "")}}
    raw = _encrypted(body)
    status = httpx.post(endpoints.feishu, content=raw, headers=_signed_headers(raw), timeout=30).status_code
    assert status in (200, 400, 401), status
    assert endpoints.rows() == (0, 0)


# ---- Telegram -----------------------------------------------------------------------------------------------

def _tg_headers(secret: str | None = TG_SECRET) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return headers


def test_telegram_webhook_rejects_bad_requests_and_stores_nothing(endpoints: Endpoints) -> None:
    url = endpoints.telegram
    update = endpoints.fake_tg.message_update(555, "private", 555, "Eve", "hello")
    good = json.dumps(update).encode()
    deep = b'{"update_id": 1, "message": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    huge = json.dumps({**update, "message": {**update["message"], "text": "x" * HUGE}}).encode()
    cases: dict[str, tuple[bytes | Iterator[bytes], dict[str, str], int]] = {
        "no secret": (good, _tg_headers(None), 403),
        "forged secret": (good, _tg_headers("guess"), 403),
        "secret as a prefix": (good, _tg_headers(TG_SECRET[:-1]), 403),
        "malformed json": (b'{"update_id": ', _tg_headers(), 400),
        "update_id of the wrong type": (b'{"update_id": "1", "message": {}}', _tg_headers(), 400),
        "not an object": (b"[1, 2, 3]", _tg_headers(), 400),
        "invalid utf-8": (b'{"update_id": 1, "message": {"text": "\xff\xfe"}}', _tg_headers(), 400),
        "deep nesting": (deep, _tg_headers(), 400),
        "huge declared": (huge, _tg_headers(), 413),
        "huge chunked": (_chunked(huge), _tg_headers(), 413),
    }
    with httpx.Client(timeout=30) as client:
        answers = {name: client.post(url, content=body, headers=headers).status_code
                   for name, (body, headers, _) in cases.items()}
        assert answers == {name: status for name, (_, _, status) in cases.items()}
        assert endpoints.rows() == (0, 0)
        # A kind of update we do not handle: acknowledged (else Telegram keeps sending it), nothing stored.
        query = {"update_id": 77, "callback_query": {"id": "1", "from": {"id": 5, "is_bot": False, "first_name": "E"},
                                                     "chat_instance": "c", "data": "x"}}
        assert client.post(url, json=query, headers=_tg_headers()).status_code == 200
        assert endpoints.rows() == (0, 0)
        # The genuine update, delivered three times (Telegram retries when it saw no 200): stored once.
        assert [client.post(url, content=good, headers=_tg_headers()).status_code for _ in range(3)] == [200] * 3
    messages, seen = endpoints.rows()
    assert messages >= 1 and seen == 1  # the message (and, once it is answered, its reply)


@FUZZ
@given(raw=st.binary(max_size=400) | json_values.map(lambda v: json.dumps(v).encode()),
       secret=st.sampled_from([None, "", "x", TG_SECRET.upper()]))
def test_telegram_webhook_without_the_secret_is_always_403(endpoints: Endpoints, raw: bytes,
                                                          secret: str | None) -> None:
    assert httpx.post(endpoints.telegram, content=raw, headers=_tg_headers(secret), timeout=30).status_code == 403
    assert endpoints.rows() == (0, 0)


@FUZZ
@given(value=json_values)
def test_telegram_webhook_with_the_secret_never_stores_garbage(endpoints: Endpoints, value: Any) -> None:
    status = httpx.post(endpoints.telegram, content=json.dumps(value).encode(), headers=_tg_headers(),
                        timeout=30).status_code
    assert status in (200, 400), status
    assert endpoints.rows() == (0, 0)
