"""The composition root: builds every part from the config, starts them in order and stops them in reverse.

Only this module imports channel adapters and optional parts; everything below receives what it needs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant import __version__
from assistant.clock import Clock, SystemClock
from assistant.commands import CommandRegistry
from assistant.config import Config
from assistant.errors import ProviderUnavailable, TeamclawError
from assistant.messages import Inbound, utcnow
from assistant.providers.base import ModelProvider
from assistant.services import Services
from assistant.storage.db import Database
from assistant.tools import ToolRegistry
from channels.base import Channel

if TYPE_CHECKING:
    from assistant.media import Media
    from assistant.sensitivity import Judge

__all__ = ["App", "build_channels"]

log = logging.getLogger(__name__)

SHUTDOWN_DRAIN_S = 20.0
ChatMigrated = Callable[[str, str], Awaitable[None]]
STATUS_EVERY_S = 15.0
MODEL_PROBE_EVERY_S = 900.0


def build_channels(config: Config, *, on_chat_migrated: ChatMigrated | None = None) -> list[Channel]:
    """The IM channels enabled in the config (the console belongs to ``teamclaw chat``)."""
    channels: list[Channel] = []
    if config.channels.telegram.enabled:
        from channels.telegram import TelegramChannel

        channels.append(TelegramChannel(config.channels.telegram, on_chat_migrated=on_chat_migrated))
    if config.channels.feishu.enabled:
        from channels.feishu import FeishuChannel

        channels.append(FeishuChannel(config.channels.feishu))
    return channels


async def _warm_memory(store: Any) -> None:
    """Run one recall before the channels start. Its first call loads what every later one reuses (the embedding
    model's kernels and centring vectors, chroma's query path and the team's collection, the keyword index pages),
    which took a first reply after a start 5-16 s on a busy machine; with it, that reply is as fast as the rest.
    Read-only: nobody's records match an empty scope beyond the team's, and nothing is written."""
    if getattr(store, "vectors", None) is None:
        return  # keyword search only: nothing worth loading ahead
    from assistant.messages import ChatKind, MemberScope

    nobody = MemberScope(member_id=0, member_name="", channel="warm-up", chat_id="", chat_kind=ChatKind.DIRECT)
    started = time.perf_counter()
    try:
        await store.recall(nobody, "warm up: what did the team decide last week?", 1)
    except TeamclawError as exc:
        log.warning("memory warm-up failed (the first recall will load what it needs): %s", exc)
        return
    log.info("memory warmed up in %.0f ms", (time.perf_counter() - started) * 1000)


def _warm_router(services: Services) -> None:
    """Build the providers' clients and decide one route, sending nothing, before the channels start: the clients,
    the privacy detectors and the difficulty patterns are built on first use (about 0.1-0.3 s), which a long-running
    process pays here rather than in its first reply. A one-shot chat leaves them to the one turn that may need
    them."""
    from assistant.providers.base import ChatMessage, ModelRequest

    started = time.perf_counter()
    ask = ModelRequest(messages=(ChatMessage(role="user", content="warm up: summarise what we decided last week"),))
    try:
        services.router.prepare()
        services.router.decide(ask, role="chat", scope=None)
    except ProviderUnavailable as exc:
        # No model can run yet (the bundled one's runtime may still be building): the daemon still starts, and
        # commands and plain words work; a turn says what is missing.
        log.warning("router not warmed up: %s", exc)
        return
    log.info("router warmed up in %.0f ms", (time.perf_counter() - started) * 1000)


async def _warm_first_turn(services: Services) -> None:
    """Load and build what a turn would otherwise load and build on the first reply after a start: the
    asynchronous HTTP stack's event-loop backend (httpx's transport imports anyio's asyncio backend on its first
    connection), the bundled-model check every addressed message passes, the tools' JSON schemas and the index
    of the shipped and team skills. The first reply after a start waited ~60 ms longer than the rest for them;
    nothing is sent anywhere."""
    import anyio.lowlevel

    import assistant.first_chat  # noqa: F401  (imported by intents on first use)

    await anyio.lowlevel.checkpoint()  # loads the backend for this event loop
    services.tools.specs(services.tools.names())  # cached in the registry: the prompt's tool part
    if services.skills is not None:
        services.skills.index_for(None)  # the shipped and team folders, scanned once and kept


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class App:
    """A running teamclaw. ``async with App(config, channels=...)`` starts it; leaving stops it in order."""

    def __init__(self, config: Config, *, channels: Sequence[Channel] | None = None,
                 providers: Mapping[str, ModelProvider] | None = None, clock: Clock | None = None,
                 scheduler: bool = True, dashboard: bool = True, status_file: bool = True,
                 before_channels: Callable[[], None] | None = None) -> None:
        self.config = config
        if channels is None:  # the daemon: every IM channel the config enables
            channels = build_channels(config, on_chat_migrated=self._chat_migrated)
        self.channels: dict[str, Channel] = {c.name: c for c in channels}
        self._providers = providers
        self.clock: Clock = clock or SystemClock()
        # Scheduler (with heartbeat), dashboard and status file: the daemon runs all; `chat -m` none of them.
        self._scheduler_on = scheduler
        self._dashboard_on = dashboard
        self._status_on = status_file
        # Called once everything is built and before the first message can arrive (the daemon settles its heap).
        self._before_channels = before_channels
        self.started_at: datetime | None = None
        self.last_event_at: dict[str, datetime] = {}
        self._stoppers: list[Any] = []
        self._status_task: asyncio.Task[None] | None = None
        self._model_health: dict[str, dict[str, object]] = {}
        self.dashboard_url: str | None = None
        # Several processes on one PostgreSQL: this process's leases (None on SQLite, which runs one process).
        self.leases: Any = None
        self.services: Services

    # ---- lifecycle ---------------------------------------------------------------------------------------
    async def __aenter__(self) -> App:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise

    async def _start(self) -> None:
        from assistant import core_commands
        from assistant.agent import Agents
        from assistant.dispatch import Dispatcher
        from assistant.inbox import Inbox
        from assistant.members import Directory
        from assistant.outbox import Outbox
        from assistant.router import Router

        cfg = self.config
        cfg.data_dir.mkdir(parents=True, exist_ok=True)
        cfg.workspace_dir.mkdir(parents=True, exist_ok=True)
        db = Database(cfg.database_url)
        self._stoppers.append(db.aclose)
        await db.migrate()
        db.start_maintenance()
        await self._start_leases(db)
        router = Router(cfg, db, providers=self._providers, clock=self.clock)
        self._stoppers.append(router.aclose)
        tools = ToolRegistry()
        commands = CommandRegistry()
        services = Services(config=cfg, db=db, router=router, tools=tools, clock=self.clock)
        self.services = services
        services.members = Directory(db, cfg.team, cfg.access, cfg.routing)
        core_commands.register_commands(commands)
        await self._start_memory(services, tools, commands)
        allowed = await self._start_tools(services, tools, commands)
        self._register_usage(commands)

        outbox = Outbox(db, self.channels, self.clock, shared_scan_s=cfg.storage.lease_ttl_s / 4)
        services.outbox = outbox
        if cfg.media.enabled:
            from assistant.media import FileStore, Media
            from assistant.media.commands import register_commands as register_media_commands

            services.media = Media(cfg, FileStore(db, cfg.workspace_dir), self.channels, judge=router.judge)
            self._stoppers.append(services.media.aclose)
            register_media_commands(commands)
        self._start_rescan(db, router.judge, services.media)
        # Stop order (the reverse of this list): dispatch drains its turns while the outbox and the channels can
        # still deliver their answers; then the outbox flushes; then the channels stop.
        channels_stop_at = len(self._stoppers)
        await outbox.start(open_now=False)
        self._stoppers.append(outbox.aclose)
        agents = Agents(services, allowed_tools=allowed)
        services.agents = agents
        self.inbox = Inbox(db)
        self.dispatcher = Dispatcher(
            inbox=self.inbox, directory=services.members, agents=agents, commands=commands, outbox=outbox,
            channels=self.channels, services=services, burst_window_s=cfg.agent.burst_window_ms / 1000,
            max_concurrent_turns=cfg.agent.max_concurrent_turns,
            working_after_s=cfg.agent.working_indicator_after_ms / 1000,
            lane_leases=self._lanes(db),
        )
        await self._start_scheduler(services, tools, commands)
        await self.dispatcher.start()
        self._stoppers.append(lambda: self.dispatcher.aclose(SHUTDOWN_DRAIN_S))
        self._start_adopter(db)
        await self._prepare_channels(services)
        if self._scheduler_on:
            _warm_router(services)
            await _warm_first_turn(services)
        if self._before_channels is not None:
            self._before_channels()
        for channel in self.channels.values():
            self._lead_receiver(channel)
            await channel.start(self.deliver)
            self._stoppers.insert(channels_stop_at, channel.stop)
        outbox.open()
        self.started_at = utcnow()
        if self._dashboard_on:
            await self._start_dashboard(services)
        if self._status_on:
            self._status_task = asyncio.create_task(self._write_status_forever(), name="status")
        log.info("teamclaw %s started: channels %s, models %s", __version__, ", ".join(self.channels) or "none",
                 ", ".join(sorted(cfg.all_models())))

    async def aclose(self) -> None:
        """Drain the turns in flight (messages arriving meanwhile are stored and parked for the next start), flush
        the outbox, stop the channels, close the stores last."""
        if self._status_task is not None:
            self._status_task.cancel()
            await asyncio.gather(self._status_task, return_exceptions=True)
            self._status_task = None
        while self._stoppers:
            stop = self._stoppers.pop()
            try:
                await stop()
            except Exception:
                log.exception("shutdown step failed")
        if self._status_on and self.started_at is not None:
            self._write_status(running=False)

    # ---- the one entry of every message ------------------------------------------------------------------
    async def deliver(self, msg: Inbound) -> bool:
        """Store first (the channel acknowledges only after this returns), then hand over to dispatch."""
        self.last_event_at[msg.channel] = utcnow()
        message_id = await self.inbox.accept(msg)
        if message_id is None:
            return False
        self.dispatcher.submit(message_id, msg)
        return True

    async def _prepare_channels(self, services: Services) -> None:
        from sqlalchemy import select

        from assistant.storage.tables import Message

        for channel in self.channels.values():
            remember = getattr(channel, "remember_sent", None)
            if remember is not None:
                # Replies to the bot's earlier messages address it, also across a restart.
                async with services.db.session() as s:
                    rows = (await s.execute(select(Message.extra).where(
                        Message.direction == "out", Message.channel == channel.name, Message.status == "sent")
                        .order_by(Message.id.desc()).limit(2000))).scalars().all()
                remember([part for extra in rows for part in (extra or {}).get("parts", [])])

    # ---- several processes on one database (PostgreSQL) --------------------------------------------------
    async def _start_leases(self, db: Database) -> None:
        if db.is_sqlite:
            return  # one process: lanes and receivers need no lease, and the message path no round trip
        from assistant.leases import Leases

        leases = Leases(db, ttl_s=self.config.storage.lease_ttl_s, info=self._worker_info)
        await leases.start()
        self.leases = leases
        self._stoppers.append(leases.aclose)

    def _worker_info(self) -> dict[str, Any]:
        return {"version": __version__, "channels": sorted(self.channels),
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "queue_depth": self.dispatcher.queue_depth if hasattr(self, "dispatcher") else 0}

    def _lanes(self, db: Database) -> Any:
        if self.leases is None:
            return None
        from assistant.lanes import DatabaseLanes

        return DatabaseLanes(db, self.leases)

    def _start_rescan(self, db: Database, judge: Judge, media: Media | None) -> None:
        """Sensitivity verdicts of an older detector or of other privacy settings (or from before verdicts were
        kept) are judged again in the background: memory records, transcript entries, then what was read from
        members' files. Until then such a row keeps its old flag; the router still reads a recalled line itself, by
        patterns and n-grams at the configured threshold."""
        from assistant.sensitivity import rescan_all

        async def rescan() -> None:
            await rescan_all(db, judge)
            if media is not None:
                await media.rescan()

        task = asyncio.create_task(rescan(), name="sensitivity-rescan")

        async def stop() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        self._stoppers.append(stop)

    def _start_adopter(self, db: Database) -> None:
        if self.leases is None:
            return
        from assistant.lanes import Adopter

        ttl = self.leases.ttl_s
        adopter = Adopter(db, every_s=ttl / 4, after_s=ttl, holds=self.dispatcher.holds,
                          submit=self.dispatcher.submit)
        adopter.start()
        self._stoppers.append(adopter.aclose)

    async def _run_once_per_database(self, name: str, start: Callable[[], Awaitable[None]]) -> None:
        """Start a part that must not run in two processes at once (the heartbeat would greet a member twice): with
        several processes on one database only the holder of its lease runs it, and a standby starts it when it
        takes the lease over."""
        if self.leases is None:
            await start()
            return
        from assistant.leases import Leader

        leader = Leader(self.leases, f"singleton:{name}")

        async def lead() -> None:
            await leader.wait()
            log.info("this process runs the %s now (it holds the lease)", name)
            await start()

        task = asyncio.create_task(lead(), name=f"lead:{name}")
        self._stoppers.append(lambda: _cancel(task))

    def _lead_receiver(self, channel: Channel) -> None:
        from channels.leader import SingleReceiver

        if self.leases is None or not isinstance(channel, SingleReceiver):
            return
        from assistant.leases import Leader

        channel.receive_as_leader(Leader(self.leases, f"receiver:{channel.name}"))

    async def _chat_migrated(self, old_chat_id: str, new_chat_id: str) -> None:
        await self.services.members.migrate_chat("telegram", old_chat_id, new_chat_id)

    # ---- optional parts ----------------------------------------------------------------------------------
    async def _start_memory(self, services: Services, tools: ToolRegistry, commands: CommandRegistry) -> None:
        if not self.config.memory.enabled:
            return
        import memory

        store = await memory.MemoryStore.open(self.config.memory, services.db, self.config.data_dir,
                                              chroma_url=self.config.storage.chroma_url, judge=services.router.judge)
        self._stoppers.append(store.aclose)
        services.memory = store
        memory.register_tools(tools)
        memory.register_commands(commands)
        await _warm_memory(store)
        if self._scheduler_on:
            async def start_consolidation() -> None:
                task = asyncio.create_task(self._consolidate_forever(store), name="memory-consolidation")
                self._stoppers.append(lambda: _cancel(task))

            await self._run_once_per_database("memory consolidation", start_consolidation)

    async def _consolidate_forever(self, store: Any) -> None:
        """Merge duplicates, resolve contradictions and promote journal items, every consolidate_every_h."""
        every = timedelta(hours=self.config.memory.consolidate_every_h)
        while True:
            await self.clock.sleep_until(self.clock.now() + every)
            try:
                report = await store.consolidate()
                log.info("memory consolidation: %s", report)
            except Exception:
                log.exception("memory consolidation failed; trying again next round")

    async def _start_tools(self, services: Services, tools: ToolRegistry, commands: CommandRegistry) -> Any:
        from assistant import builtin_tools, skillbook
        from assistant.builtin_tools.mcp_tools import McpServers

        cfg = self.config
        services.skills = skillbook.SkillLibrary.for_config(cfg)
        builtin_tools.register_builtin_tools(tools, cfg, channels=self.channels)
        builtin_tools.register_commands(commands)
        skillbook.register_commands(commands)
        if cfg.tools.mcp_servers:
            mcp = McpServers(cfg.tools.mcp_servers, timeout_s=cfg.tools.mcp_timeout_s, log_dir=cfg.data_dir / "logs")
            for server, state in (await mcp.start(tools)).items():
                log.info("mcp server %s: %s", server, state)
            self._stoppers.append(mcp.aclose)
        return lambda scope: builtin_tools.allowed_tools(scope, cfg, tools)

    def _register_usage(self, commands: CommandRegistry) -> None:
        from assistant.usage import register_commands

        register_commands(commands)

    async def _start_scheduler(self, services: Services, tools: ToolRegistry, commands: CommandRegistry) -> None:
        from assistant.scheduler import register_commands, register_tools

        register_tools(tools)
        register_commands(commands)
        if not self.config.scheduler.enabled:
            return
        from assistant.jobhost import DaemonJobHost
        from assistant.scheduler import Scheduler

        host = DaemonJobHost(services)
        scheduler = Scheduler(services.db, self.clock, self.config.scheduler, host)
        services.scheduler = scheduler
        if not self._scheduler_on:
            # A one-shot `teamclaw chat -m` books, lists and cancels jobs; the daemon (or a console) runs them.
            return
        await scheduler.start()
        self._stoppers.append(scheduler.aclose)
        if self.config.heartbeat.enabled:
            from assistant.heartbeat import Heartbeat

            heartbeat = Heartbeat(services.db, self.clock, self.config.heartbeat, host, self.config.workspace_dir,
                                  default_timezone=self.config.team.timezone)

            async def start_heartbeat() -> None:
                await heartbeat.start()
                self._stoppers.append(heartbeat.aclose)

            await self._run_once_per_database("heartbeat", start_heartbeat)

    async def _start_dashboard(self, services: Services) -> None:
        if not self.config.dashboard.enabled:
            return
        from assistant.dashboard import build_dashboard, serve_dashboard

        app = build_dashboard(services, status=self.status)
        try:
            server = await serve_dashboard(app, self.config.dashboard.host, self.config.dashboard.port)
        except (OSError, TeamclawError) as exc:
            log.warning("dashboard not started: %s", exc)
            return
        self._stoppers.append(server.aclose)
        self.dashboard_url = server.url
        log.info("dashboard at %s", server.url)

    # ---- status ------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        channels = {}
        for name, channel in self.channels.items():
            last = self.last_event_at.get(name) or getattr(channel, "last_event_at", None)
            channels[name] = {
                "connected": bool(getattr(channel, "connected", True)),
                "last_event_at": last.isoformat() if last else None,
            }
        return {
            "version": __version__,
            "pid": os.getpid(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "updated_at": utcnow().isoformat(),
            "channels": channels,
            "queue_depth": self.dispatcher.queue_depth if hasattr(self, "dispatcher") else 0,
            "subagents": self.dispatcher.subagents() if hasattr(self, "dispatcher") else [],
            "models": self._model_health,
            "worker": self.leases.holder if self.leases is not None else None,
        }

    @property
    def status_path(self) -> Path:
        return self.config.data_dir / "run" / "status.json"

    def _write_status(self, *, running: bool = True) -> None:
        data = self.status()
        data["running"] = running
        path = self.status_path
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(path)

    async def _probe_models_forever(self) -> None:
        """Reachability and latency of every model, for status and the dashboard (a one-token request each)."""
        while True:
            try:
                self._model_health = await self.services.router.health()
            except Exception:
                log.exception("model health probe failed")
            await asyncio.sleep(MODEL_PROBE_EVERY_S)

    async def _write_status_forever(self) -> None:
        probe = asyncio.create_task(self._probe_models_forever(), name="model-health")
        try:
            await self._write_status_loop()
        finally:
            await _cancel(probe)

    async def _write_status_loop(self) -> None:
        while True:
            try:
                self._write_status()
            except OSError:
                log.warning("could not write %s", self.status_path, exc_info=True)
            await asyncio.sleep(STATUS_EVERY_S)

    # ---- foreground run ----------------------------------------------------------------------------------
    async def run_until_signalled(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
            log.info("shutting down: finishing turns in flight (up to %.0f s)", SHUTDOWN_DRAIN_S)
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
