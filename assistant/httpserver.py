"""An HTTP server in the daemon's own event loop (dashboard, Feishu and Telegram webhooks): uvicorn on a socket we
bind, started and stopped by its owner, never touching the daemon's signal handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from assistant.errors import ConfigError, TeamclawError

__all__ = ["LoopServer"]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class _Server(uvicorn.Server):
    """uvicorn's server that leaves SIGINT/SIGTERM to the daemon and says when it is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the daemon owns shutdown and stops us through aclose()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class LoopServer:
    """Serves ``app`` on host:port. ``start()`` returns once it accepts connections (port 0 picks a free one and
    ``port`` then says which); ``aclose()`` stops it. ``port_key`` names the config key to change when the port is
    taken, so the error says what to do."""

    def __init__(self, app: ASGIApp, host: str, port: int, *, name: str, port_key: str) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.name = name
        self.port_key = port_key
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            sock = socket.create_server((self.host, self.port), family=family)
        except OSError as exc:
            raise ConfigError(f"{self.name} cannot listen on {self.host}:{self.port} ({exc.strerror}): choose "
                              f"another {self.port_key} or stop what uses it") from exc
        self.port = sock.getsockname()[1]
        # Plain HTTP only (the dashboard and the webhooks take no websocket): ws="none" keeps uvicorn from importing
        # a websocket implementation, 31 modules and ~1 MB of a daemon that never uses them.
        config = uvicorn.Config(self.app, lifespan="off", log_config=None, access_log=False, server_header=False,
                                ws="none")
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name=self.name)
        listening = asyncio.create_task(self._server.listening.wait())
        done, _ = await asyncio.wait({self._task, listening}, timeout=START_TIMEOUT_S,
                                     return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if listening not in done:
            await self.aclose()
            sock.close()
            raise TeamclawError(f"{self.name} did not start on {self.host}:{self.port}; see the log")
        log.info("%s listening on %s", self.name, self.url)

    async def aclose(self) -> None:
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
        except Exception:  # the server task's own crash, reported once, at shutdown
            log.exception("%s stopped with an error", self.name)
