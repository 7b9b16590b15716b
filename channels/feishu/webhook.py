"""Receiving Feishu events over HTTP: verify, decrypt, hand over, and answer 200 only once the event is stored.

Checks, in order, before anything is delivered: body size; JSON; decryption with the encrypt key (lark-oapi's
``AESCipher``: key = sha256(encrypt_key), body ``{"encrypt": base64(iv16 + AES-256-CBC(PKCS7(json)))}``);
``url_verification`` answered with its challenge after the token check; for events the ``X-Lark-Signature``
(sha256(timestamp + nonce + encrypt_key + raw body), compared in constant time), a timestamp window against
replays (the SDK has none) and the verification token. A request failing a check gets 400/401/413 and changes
nothing. lark-oapi's ``EventDispatcherHandler.do`` is not used for HTTP: it answers 500 to every failure (which
Feishu retries for hours), compares signatures with ``!=`` and has no replay window.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from lark_oapi.core.utils import AESCipher
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistant.errors import ChannelError, VerificationFailed
from assistant.httpserver import LoopServer

__all__ = ["MAX_BODY_BYTES", "EventSink", "FeishuWebhook", "MalformedEvent", "WebhookVerifier"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
ACK_DEADLINE_S = 2.5  # Feishu waits 3 s for the 200 before it schedules a redelivery
URL_VERIFICATION = "url_verification"

EventSink = Callable[[dict[str, Any]], Coroutine[Any, Any, None]]


class MalformedEvent(ChannelError):
    """The request is not a Feishu event we can read (bad JSON, undecryptable, too large)."""


class WebhookVerifier:
    """Pure checks of one webhook request; ``open`` returns the decrypted event body or raises."""

    def __init__(self, *, encrypt_key: str, verification_token: str, replay_window_s: float,
                 clock: Callable[[], float] = time.time) -> None:
        self._encrypt_key = encrypt_key
        self._token = verification_token
        self._window = replay_window_s
        self._clock = clock
        self._cipher = AESCipher(encrypt_key)

    def open(self, headers: Mapping[str, str], raw: bytes) -> dict[str, Any]:
        outer = _json_object(raw, "body")
        encrypted = outer.get("encrypt")
        if not isinstance(encrypted, str):
            raise VerificationFailed("body is not encrypted although an encrypt key is configured")
        try:
            plaintext = self._cipher.decrypt_str(encrypted)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedEvent("body cannot be decrypted with the configured encrypt key") from exc
        body = _json_object(plaintext.encode("utf-8"), "decrypted body")
        if body.get("type") == URL_VERIFICATION:
            # Feishu does not sign the url_verification request; the token is its proof.
            self._check_token(body.get("token"))
            return body
        self._check_signature(headers, raw)
        self._check_token((body.get("header") or {}).get("token") if "schema" in body else body.get("token"))
        return body

    def _check_signature(self, headers: Mapping[str, str], raw: bytes) -> None:
        timestamp = headers.get("x-lark-request-timestamp", "")
        nonce = headers.get("x-lark-request-nonce", "")
        signature = headers.get("x-lark-signature", "")
        if not (timestamp and nonce and signature):
            raise VerificationFailed("signature headers missing")
        expected = hashlib.sha256((timestamp + nonce + self._encrypt_key).encode("utf-8") + raw).hexdigest()
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
            raise VerificationFailed("signature does not match")
        try:
            age = abs(self._clock() - int(timestamp))
        except ValueError as exc:
            raise VerificationFailed("timestamp is not a number") from exc
        if age > self._window:
            raise VerificationFailed(f"timestamp outside the {self._window:.0f}s replay window")

    def _check_token(self, token: Any) -> None:
        if not isinstance(token, str) or not hmac.compare_digest(token.encode("utf-8"), self._token.encode("utf-8")):
            raise VerificationFailed("verification token does not match")


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise MalformedEvent(f"{what} is not JSON") from exc
    if not isinstance(value, dict):
        raise MalformedEvent(f"{what} is not a JSON object")
    return value


class FeishuWebhook:
    """The HTTP endpoint. ``sink(body)`` must store the event; the 200 is sent only after it returned."""

    def __init__(self, verifier: WebhookVerifier, sink: EventSink, *, host: str, port: int, path: str) -> None:
        self._verifier = verifier
        self._sink = sink
        self.host = host
        self.port = port
        self.path = path
        self._http: LoopServer | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"

    def app(self) -> Starlette:
        return Starlette(routes=[Route(self.path, self._receive, methods=["POST"])])

    async def start(self) -> None:
        self._http = LoopServer(self.app(), self.host, self.port, name="feishu webhook",
                                port_key="channels.feishu.webhook_port")
        await self._http.start()
        self.port = self._http.port

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _receive(self, request: Request) -> Response:
        try:
            raw = await _read_limited(request)
            body = self._verifier.open({k.lower(): v for k, v in request.headers.items()}, raw)
        except VerificationFailed as exc:
            log.warning("feishu webhook request rejected: %s", exc)
            return JSONResponse({"msg": "unauthorized"}, status_code=401)
        except _TooLarge:
            return JSONResponse({"msg": "body too large"}, status_code=413)
        except MalformedEvent as exc:
            log.warning("feishu webhook request rejected: %s", exc)
            return JSONResponse({"msg": "bad request"}, status_code=400)
        if body.get("type") == URL_VERIFICATION:
            return JSONResponse({"challenge": body.get("challenge", "")})
        try:
            async with asyncio.timeout(ACK_DEADLINE_S):
                await self._sink(body)
        except TimeoutError:
            log.warning("feishu event not stored within %.1fs; Feishu will redeliver it", ACK_DEADLINE_S)
            return JSONResponse({"msg": "busy"}, status_code=503)
        except Exception:  # one event's boundary: the failure is logged and Feishu redelivers later
            log.exception("feishu event could not be stored; Feishu will redeliver it")
            return JSONResponse({"msg": "error"}, status_code=500)
        return JSONResponse({"msg": "success"})


class _TooLarge(Exception):
    pass


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)
