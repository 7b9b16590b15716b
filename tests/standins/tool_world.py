"""A small teamclaw for tool and skill tests: real SQLite (migrated), a real tool registry and skill library,
member scopes, and a chat channel stand-in that records sends and edits."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from assistant.builtin_tools import allowed_tools, register_builtin_tools
from assistant.clock import SystemClock
from assistant.commands import CommandContext
from assistant.config import Config
from assistant.messages import ChatKind, Inbound, MemberScope, Reply, SentRef
from assistant.services import Services
from assistant.skillbook import SkillLibrary
from assistant.storage.db import Database
from assistant.tools import ToolContext, ToolRegistry, ToolResult

ALICE, BOB = 1, 2


def member(member_id: int = ALICE, *, name: str = "alice", kind: ChatKind = ChatKind.DIRECT, admin: bool = False,
           chat_id: str = "chat-1", channel: str = "console") -> MemberScope:
    return MemberScope(member_id=member_id, member_name=name, channel=channel, chat_id=chat_id, chat_kind=kind,
                       is_admin=admin)


@dataclass
class RecordingChannel:
    """A channel that can edit messages; records what it was asked to do."""

    name: str = "console"
    sent: list[Reply] = field(default_factory=list)
    edits: list[tuple[str, str]] = field(default_factory=list)  # (platform message id, text)
    _ids: Any = field(default_factory=lambda: itertools.count(100))

    async def start(self, deliver: Any) -> None:
        return None

    async def send(self, reply: Reply) -> SentRef:
        self.sent.append(reply)
        return SentRef((str(next(self._ids)),))

    async def edit(self, channel_chat_id: str, platform_message_id: str, text: str) -> None:
        self.edits.append((platform_message_id, text))

    async def stop(self) -> None:
        return None


@dataclass
class RecordingOutbox:
    """Takes what tools enqueue (the real outbox's enqueue signature) and keeps it in order."""

    queued: list[tuple[Reply, int | None, int | None]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def enqueue(self, reply: Reply, member_id: int | None, in_reply_to: int | None = None) -> int:
        self.queued.append((reply, member_id, in_reply_to))
        self.arrived.set()
        return len(self.queued)


@dataclass
class World:
    config: Config
    services: Services
    registry: ToolRegistry
    outbox: RecordingOutbox

    def ctx(self, scope: MemberScope, *, allowed: frozenset[str] | None = None, depth: int = 0,
            identities: tuple[str, ...] = ()) -> ToolContext:
        if allowed is None:
            allowed = allowed_tools(scope, self.config, self.registry, identities=identities)
        return ToolContext(scope=scope, services=self.services, allowed_tools=allowed, depth=depth,
                           inbound_message_id=7)

    async def call(self, scope: MemberScope, tool: str, arguments: str, **kw: Any) -> ToolResult:
        return await self.registry.call(tool, arguments, self.ctx(scope, **kw))

    def command_ctx(self, scope: MemberScope, sender_id: str = "alice") -> CommandContext:
        inbound = Inbound(channel=scope.channel, chat_id=scope.chat_id, chat_kind=scope.chat_kind,
                          sender_id=sender_id, sender_name=scope.member_name, text="/cmd", platform_message_id="m1")
        return CommandContext(scope=scope, services=self.services, inbound=inbound)


@asynccontextmanager
async def open_world(config: Config, *, channels: dict[str, Any] | None = None) -> AsyncIterator[World]:
    db = Database(config.database_url)
    await db.migrate()
    registry = ToolRegistry()
    services = Services(config=config, db=db, router=None, tools=registry,  # type: ignore[arg-type]
                        clock=SystemClock())
    services.skills = SkillLibrary.for_config(config)
    outbox = RecordingOutbox()
    services.outbox = outbox
    register_builtin_tools(registry, config, channels=channels)
    try:
        yield World(config, services, registry, outbox)
    finally:
        await db.aclose()
