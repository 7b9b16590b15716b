"""Receiving Feishu events over the long connection (``lark_oapi.ws.Client``), watched and reconnected.

Why a thread, and why a private copy of the SDK module: ``lark_oapi.ws.client`` captures one event loop in a
module global when it is first imported and ``Client.start()`` runs that loop forever, with no ``stop()``. If the
first import happened inside our running loop, ``start()`` would try to run the daemon's own loop. So each
connection runs in its own daemon thread on a fresh loop, with its own copy of that module bound to it; stopping a
connection disconnects it and stops that loop, which ends ``start()`` and the thread.

Store before ack: the SDK calls our handler before it acks the frame, and acks with whatever the handler did. The
handler hands the event to the daemon's loop and waits (at most ``ACK_DEADLINE_S``, under Feishu's 3 s) until it
is stored; on timeout or failure it raises, the SDK answers 500 and Feishu redelivers later (the inbox dedupes).

Watching: a frame of any kind (event, pong) marks the connection alive. The SDK pings every ~2 minutes (the server
sets the interval) and reconnects by itself when the socket reports an error, but a half-open socket can stay
silent. After ``idle_reconnect_s`` without a frame the connection is replaced by a new one.

Several processes on one database: Feishu spreads an app's events over all its connections, so with ``leader``
only the process holding the lease connects; the others stand by and connect when they take the lease over.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import lark_oapi as lark
import lark_oapi.ws.client as _shared_ws_client

from assistant.errors import ChannelError
from channels.leader import Leader

from .parse import MESSAGE_EVENT
from .webhook import ACK_DEADLINE_S, EventSink

__all__ = ["IGNORED_EVENTS", "LongConnection"]

log = logging.getLogger(__name__)

FIRST_CONNECT_TIMEOUT_S = 15.0
DISCONNECT_TIMEOUT_S = 3.0
JOIN_TIMEOUT_S = 5.0
# Events an app commonly subscribes to besides messages: acknowledged and dropped, so Feishu does not retry them.
IGNORED_EVENTS = (
    "im.message.message_read_v1",
    "im.message.reaction.created_v1",
    "im.message.reaction.deleted_v1",
    "im.chat.member.bot.added_v1",
    "im.chat.member.bot.deleted_v1",
    "im.chat.member.user.added_v1",
    "im.chat.member.user.deleted_v1",
    "im.chat.disbanded_v1",
)
_HEADER_FIELDS = ("event_id", "event_type", "create_time", "token", "app_id", "tenant_key")


class _Generation:
    """One connection attempt's thread, loop and SDK client."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: Any = None
        self.stopping = False
        self.error: BaseException | None = None


class LongConnection:
    """The long connection. ``start()`` returns once connected (or after a timeout, still retrying); ``aclose()``
    ends it. ``sink(body)`` runs on the daemon's loop and must store the event.
    """

    def __init__(self, *, app_id: str, app_secret: str, domain: str, sink: EventSink, idle_reconnect_s: float,
                 on_state: Callable[[bool], None] | None = None, leader: Leader | None = None) -> None:
        self._leader = leader
        self._leading: asyncio.Task[None] | None = None
        self._app_id = app_id
        self._app_secret = app_secret
        self._domain = domain
        self._sink = sink
        self._idle_s = idle_reconnect_s
        self._on_state = on_state or (lambda connected: None)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._generation: _Generation | None = None
        self._count = 0
        self._activity = asyncio.Event()
        self._first_state = asyncio.Event()
        self._watchdog: asyncio.Task[None] | None = None
        self.connected = False
        self.last_frame_at: float | None = None
        self.reconnects = 0

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._leader is not None:
            # Returns at once: a standby process connects only once it leads.
            self._leading = asyncio.create_task(self._lead(self._leader), name="feishu-ws-leader")
            return
        await self._connect_and_watch()

    async def _lead(self, leader: Leader) -> None:
        while True:
            await leader.wait()
            log.info("feishu: this process holds the long connection now (it holds the lease)")
            self._first_state.clear()
            try:
                await self._connect_and_watch()
            except ChannelError as exc:
                # The task's boundary: refused credentials stay refused, so hand the lease on and say so.
                log.error("%s", exc)
                await leader.step_down()
                return
            await leader.lost.wait()
            log.warning("feishu: another process took over the long connection; standing by")
            await self._disconnect()

    async def _connect_and_watch(self) -> None:
        self._launch()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_CONNECT_TIMEOUT_S):
                await self._first_state.wait()
        generation = self._generation
        if generation is not None and generation.error is not None and not self.connected:
            raise _as_channel_error(generation.error)
        if not self.connected:
            log.warning("feishu long connection not up after %.0fs; the SDK keeps retrying", FIRST_CONNECT_TIMEOUT_S)
        self._watchdog = asyncio.create_task(self._watch(), name="feishu-ws-watchdog")

    async def aclose(self) -> None:
        if self._leading is not None:
            self._leading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leading
            self._leading = None
        await self._disconnect()
        if self._leader is not None:
            await self._leader.step_down()  # a standby process connects now, not when the lease expires

    async def _disconnect(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        if self._generation is not None:
            await self._retire(self._generation)
            self._generation = None
        self._set_connected(False)

    async def reconnect(self) -> None:
        """Replace the connection with a new one (new thread, new loop, new SDK client)."""
        old = self._generation
        self.reconnects += 1
        self._set_connected(False)
        if old is not None:
            await self._retire(old)
        self._launch()

    # -- the daemon's side ---------------------------------------------------------------------------------

    async def _watch(self) -> None:
        while True:
            try:
                async with asyncio.timeout(self._idle_s):
                    await self._activity.wait()
            except TimeoutError:
                log.warning("feishu long connection silent for %.0fs: reconnecting", self._idle_s)
                await self.reconnect()
                continue
            self._activity.clear()

    def _launch(self) -> None:
        self._count += 1
        generation = _Generation(self._count)
        thread = threading.Thread(target=self._run, args=(generation,), name=f"feishu-ws-{generation.number}",
                                  daemon=True)
        generation.thread = thread
        self._generation = generation
        thread.start()

    async def _retire(self, generation: _Generation) -> None:
        generation.stopping = True
        loop, client = generation.loop, generation.client
        if loop is not None and client is not None and not loop.is_closed():
            client._auto_reconnect = False  # the receive loop must not reconnect what we are closing
            with contextlib.suppress(Exception):
                future = asyncio.run_coroutine_threadsafe(client._disconnect(), loop)
                async with asyncio.timeout(DISCONNECT_TIMEOUT_S):  # not wait_for: it can lose a cancellation
                    await asyncio.wrap_future(future)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(loop.stop)
        if generation.thread is not None:
            await asyncio.to_thread(generation.thread.join, JOIN_TIMEOUT_S)
            if generation.thread.is_alive():
                log.warning("feishu long connection thread %s did not stop; left as a daemon thread",
                            generation.thread.name)

    def _mark_up(self) -> None:
        self._set_connected(True)
        self._first_state.set()

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        self._on_state(connected)

    def _from_thread(self, generation: _Generation, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the daemon's loop, unless this generation was retired or the loop is gone."""
        if generation.stopping or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(callback)

    # -- the connection thread's side ----------------------------------------------------------------------

    def _run(self, generation: _Generation) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(lambda lp, context: _loop_exception(generation, lp, context))
        generation.loop = loop
        try:
            module = _private_ws_module()
            client = module.Client(self._app_id, self._app_secret, log_level=lark.LogLevel.WARNING,
                                   event_handler=self._dispatcher(generation), domain=self._domain,
                                   auto_reconnect=True)
            self._watch_client(generation, client)
            generation.client = client
            client.start()  # returns only when the loop is stopped (RuntimeError) or the first connect fails
        except RuntimeError:
            if not generation.stopping:
                log.exception("feishu long connection %d stopped unexpectedly", generation.number)
        except Exception as exc:  # the thread's boundary: remembered for start() and the watchdog
            generation.error = exc
            log.error("feishu long connection %d failed: %s", generation.number, exc)
            self._from_thread(generation, self._first_state.set)
        finally:
            _close_loop(loop)

    def _watch_client(self, generation: _Generation, client: Any) -> None:
        # lark-oapi 1.7.5 (pinned) exposes no frame hook; wrapping these two coroutine methods on the instance
        # is the narrowest way to learn "connected" and "a frame arrived".
        connect, handle = client._connect, client._handle_message

        async def connect_and_report() -> None:
            await connect()
            self._from_thread(generation, self._mark_up)
            self._frame_seen(generation)

        async def handle_and_stamp(message: bytes) -> None:
            self._frame_seen(generation)
            await handle(message)

        client._connect = connect_and_report
        client._handle_message = handle_and_stamp
        client.on_reconnecting = lambda: self._from_thread(generation, lambda: self._set_connected(False))

    def _frame_seen(self, generation: _Generation) -> None:
        self.last_frame_at = time.time()
        self._from_thread(generation, self._activity.set)

    def _dispatcher(self, generation: _Generation) -> lark.EventDispatcherHandler:
        builder = lark.EventDispatcherHandler.builder("", "")
        builder.register_p2_customized_event(MESSAGE_EVENT, lambda event: self._deliver(generation, event))
        for event_type in IGNORED_EVENTS:
            builder.register_p2_customized_event(event_type, lambda event: None)
        return builder.build()

    def _deliver(self, generation: _Generation, event: Any) -> None:
        """Runs in the connection thread, before the frame is acked: returns only once the event is stored."""
        if self._loop is None or generation.stopping:
            raise RuntimeError("connection is closing")  # not acked: Feishu redelivers to the next connection
        body = {
            "schema": getattr(event, "schema", None) or "2.0",
            "header": {name: getattr(event.header, name, None) for name in _HEADER_FIELDS},
            "event": event.event,
        }
        future = asyncio.run_coroutine_threadsafe(self._sink(body), self._loop)
        try:
            future.result(timeout=ACK_DEADLINE_S)
        except TimeoutError:
            future.cancel()
            raise


def _private_ws_module() -> ModuleType:
    """A fresh copy of ``lark_oapi.ws.client`` whose module-level loop is this thread's loop."""
    spec = importlib.util.spec_from_file_location(_shared_ws_client.__name__, _shared_ws_client.__file__)
    if spec is None or spec.loader is None:
        raise RuntimeError("lark_oapi.ws.client cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _loop_exception(generation: _Generation, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Closing a retired connection makes the SDK's receive loop end with an error nobody awaits: expected.
    if generation.stopping:
        log.debug("feishu long connection %d after close: %s", generation.number, context.get("message"))
    else:
        loop.default_exception_handler(context)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    with contextlib.suppress(Exception):
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.close()


def _as_channel_error(exc: BaseException) -> ChannelError:
    return ChannelError(f"feishu long connection refused: {exc}; check channels.feishu.app_id and app_secret, "
                        "and that the app subscribes to events over the long connection")
