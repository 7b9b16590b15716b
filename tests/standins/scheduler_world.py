"""What scheduler and heartbeat tests share: a migrated SQLite database, members, and a host that plays the
daemon's side of the seam (agent turns answered from a script, deliveries stored by the real outbox)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from assistant.clock import Clock
from assistant.errors import StorageError
from assistant.messages import ChatKind, MemberScope, Reply
from assistant.outbox import Outbox
from assistant.scheduler import JobView
from assistant.storage.db import Database
from assistant.storage.tables import Identity, Member, Message


async def open_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'teamclaw.db'}")
    await db.migrate()
    return db


async def add_member(db: Database, name: str, *, timezone: str = "UTC", role: str = "member",
                     channel: str = "telegram", platform_id: str | None = None) -> int:
    async with db.session() as s:
        member = Member(name=name, role=role, timezone=timezone, allowed=True)
        s.add(member)
        await s.flush()
        s.add(Identity(member_id=member.id, channel=channel, platform_user_id=platform_id or f"u_{name.lower()}",
                       display_name=name))
        return member.id


async def add_message(db: Database, *, member_id: int | None, text: str, chat_id: str, at: datetime,
                      kind: ChatKind = ChatKind.GROUP, sender_name: str = "", channel: str = "telegram") -> int:
    async with db.session() as s:
        row = Message(direction="in", channel=channel, chat_id=chat_id, chat_kind=kind.value, member_id=member_id,
                      sender_id=f"u_{sender_name.lower()}", sender_name=sender_name, text=text,
                      platform_message_id=f"p{at.timestamp()}-{chat_id}-{member_id}", status="answered",
                      created_at=at)
        s.add(row)
        await s.flush()
        return row.id


def scope(member_id: int, name: str, *, chat_id: str = "g1", group: bool = True, timezone: str = "UTC",
          is_admin: bool = False, channel: str = "telegram") -> MemberScope:
    return MemberScope(member_id=member_id, member_name=name, channel=channel, chat_id=chat_id,
                       chat_kind=ChatKind.GROUP if group else ChatKind.DIRECT, timezone=timezone, is_admin=is_admin)


@dataclass
class Host:
    """The daemon's side: ``deliver`` stores through the real outbox (which dedupes by idempotency key)."""

    db: Database
    clock: Clock
    agent_answers: list[str] = field(default_factory=list)
    heartbeat_answers: list[str | None] = field(default_factory=list)
    fail_next_deliveries: int = 0
    fail_agent: bool = False
    agent_calls: list[JobView] = field(default_factory=list)
    heartbeat_calls: list[tuple[int, list[str]]] = field(default_factory=list)
    delivered: list[Reply] = field(default_factory=list)
    delivery_attempts: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.db, {}, self.clock)

    async def run_agent_job(self, job: JobView) -> str:
        self.agent_calls.append(job)
        if self.fail_agent:
            raise RuntimeError("model endpoint exploded")
        return self.agent_answers.pop(0) if self.agent_answers else f"done: {job.payload}"

    async def heartbeat_turn(self, member_id: int, findings: list[str]) -> str | None:
        self.heartbeat_calls.append((member_id, findings))
        return self.heartbeat_answers.pop(0) if self.heartbeat_answers else "NOTHING"

    async def deliver(self, reply: Reply, *, member_id: int | None) -> None:
        self.delivery_attempts += 1
        if self.fail_next_deliveries:
            self.fail_next_deliveries -= 1
            raise StorageError("database is locked")
        await self.outbox.enqueue(reply, member_id)
        self.delivered.append(reply)
        self.changed.set()

    async def wait_delivered(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.delivered) < count:
                self.changed.clear()
                await self.changed.wait()
