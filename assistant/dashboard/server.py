"""Serving the dashboard in the daemon's event loop: uvicorn on a socket we bind, started and closed by us."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

from assistant.errors import ConfigError, TeamclawError

__all__ = ["DashboardServer", "serve_dashboard"]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class _Server(uvicorn.Server):
    """uvicorn's server that leaves the daemon's signal handlers alone and says when it is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # uvicorn would install SIGINT/SIGTERM handlers of its own; the daemon owns shutdown (aclose()).
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class DashboardServer:
    """A running dashboard. ``start()`` returns once it accepts connections; ``aclose()`` stops it."""

    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        try:
            sock = socket.create_server((self.host, self.port), family=_family(self.host), reuse_port=False)
        except OSError as exc:
            raise ConfigError(
                f"dashboard cannot listen on {self.host}:{self.port} ({exc.strerror}): "
                "choose another dashboard.port or stop what uses it"
            ) from exc
        self.port = sock.getsockname()[1]  # port 0 picks a free one
        config = uvicorn.Config(
            self.app, lifespan="off", log_config=None, access_log=False, server_header=False
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="dashboard")
        listening = asyncio.create_task(self._server.listening.wait())
        done, _ = await asyncio.wait({self._task, listening}, timeout=START_TIMEOUT_S,
                                     return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if listening not in done:
            await self.aclose()
            sock.close()
            raise TeamclawError(f"dashboard did not start on {self.host}:{self.port}; see the log")
        log.info("dashboard listening on %s", self.url)

    async def aclose(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._server.force_exit = True
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        except Exception:  # a crash of the server task is reported here, once, at shutdown
            log.exception("dashboard server stopped with an error")
        self._server = self._task = None


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


async def serve_dashboard(app: ASGIApp, host: str, port: int) -> DashboardServer:
    """Start serving ``app`` on host:port in the running loop; the caller owns the result and aclose()s it."""
    server = DashboardServer(app, host, port)
    await server.start()
    return server
