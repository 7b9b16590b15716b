"""The Telegram webhook endpoint, served in the daemon's loop: checks the secret, hands the update over, answers.

Telegram posts each update to ``webhook_url`` with the ``secret_token`` given to setWebhook in the
``X-Telegram-Bot-Api-Secret-Token`` header. A request without the right secret gets 403 and changes nothing; a
body that is not an update gets 400. The answer is 200 only after ``handle(update)`` returned (the update is
stored); when it raised, 500, and Telegram delivers the update again later.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Bot, Update

from assistant.httpserver import LoopServer

__all__ = ["SECRET_HEADER", "WebhookReceiver"]

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1_000_000  # a Telegram update is a few KB; anything near this is not one

HandleUpdate = Callable[[Update], Awaitable[None]]


class WebhookReceiver:
    """Serves one POST route on ``listen:port``. ``start()`` returns once it accepts connections."""

    def __init__(self, bot: Bot, handle: HandleUpdate, *, listen: str, port: int, path: str, secret: str) -> None:
        self._bot = bot
        self._handle = handle
        self._listen = listen
        self.port = port
        self._path = path or "/"
        self._secret = secret.encode()
        self._http: LoopServer | None = None

    async def start(self) -> None:
        app = Starlette(routes=[Route(self._path, self._receive, methods=["POST"])])
        self._http = LoopServer(app, self._listen, self.port, name="telegram webhook",
                                port_key="channels.telegram.webhook_port")
        await self._http.start()
        self.port = self._http.port

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _receive(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.warning("telegram webhook: request without the right secret token refused")
            return PlainTextResponse("forbidden", status_code=403)
        body = await _read_limited(request)
        if body is None:
            return PlainTextResponse("too large", status_code=413)
        update = _read_update(body, self._bot)
        if update is None:
            return PlainTextResponse("not a Telegram update", status_code=400)
        try:
            await self._handle(update)
        except Exception:  # request boundary: 500 makes Telegram deliver the update again later
            log.exception("telegram webhook: update %d could not be handled", update.update_id)
            return PlainTextResponse("not stored", status_code=500)
        return Response(status_code=200)


async def _read_limited(request: Request) -> bytes | None:
    """The body, or None past MAX_BODY_BYTES: a chunked body has no Content-Length to check up front."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _read_update(body: bytes, bot: Bot) -> Update | None:
    try:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return None
        return Update.de_json(data, bot)
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):  # RecursionError: deep nesting
        return None
