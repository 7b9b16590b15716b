"""The Telegram webhook endpoint, served in the daemon's loop: checks the secret, hands the update over, answers.

Telegram posts each update to ``webhook_url`` with the ``secret_token`` given to setWebhook in the
``X-Telegram-Bot-Api-Secret-Token`` header. A request without the right secret gets 403 and changes nothing; a
body that is not an update gets 400. The answer is 200 only after ``handle(update)`` returned (the update is
stored); when it raised, 500, and Telegram delivers the update again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import socket
from collections.abc import Awaitable, Callable, Generator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Bot, Update

from assistant.errors import ChannelError, ConfigError

__all__ = ["SECRET_HEADER", "WebhookReceiver"]

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1_000_000  # a Telegram update is a few KB; anything near this is not one
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0

HandleUpdate = Callable[[Update], Awaitable[None]]


class _Server(uvicorn.Server):
    """uvicorn's server without its signal handlers (the daemon owns shutdown), saying when it listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class WebhookReceiver:
    """Serves one POST route on ``listen:port``. ``start()`` returns once it accepts connections."""

    def __init__(self, bot: Bot, handle: HandleUpdate, *, listen: str, port: int, path: str, secret: str) -> None:
        self._bot = bot
        self._handle = handle
        self._listen = listen
        self.port = port
        self._path = path or "/"
        self._secret = secret.encode()
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self._listen else socket.AF_INET
        try:
            sock = socket.create_server((self._listen, self.port), family=family)
        except OSError as exc:
            raise ConfigError(
                f"telegram webhook cannot listen on {self._listen}:{self.port} ({exc.strerror}): choose another "
                "channels.telegram.webhook_port or stop what uses it"
            ) from exc
        self.port = sock.getsockname()[1]  # port 0 picks a free one
        app = Starlette(routes=[Route(self._path, self._receive, methods=["POST"])])
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, server_header=False)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="telegram-webhook")
        listening = asyncio.create_task(self._server.listening.wait())
        done, _ = await asyncio.wait(
            {self._task, listening}, timeout=START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
        listening.cancel()
        if listening not in done:
            await self.stop()
            sock.close()
            raise ChannelError(f"telegram webhook did not start on {self._listen}:{self.port}; see the log")
        log.info("telegram webhook listening on %s:%d%s", self._listen, self.port, self._path)

    async def stop(self) -> None:
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await asyncio.shield(task)
        except TimeoutError:
            server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception:  # the server task's crash is reported once, here
            log.exception("telegram webhook server stopped with an error")

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
