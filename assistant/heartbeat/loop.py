"""The heartbeat: every ``interval_min`` each recently active member gets a cheap check; the model is asked only
when a check found something new, and speaks only when it has something worth saying (capped per day).

A beat skips members outside their active hours or inside their quiet hours (in the member's time zone) and
members who reached ``daily_cap`` today. Findings already shown to the model are remembered, so an idle team, or
the same open question at every beat, costs no model call. What the model says goes to the member's direct chat
through the outbox, entering the message path like any other reply.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select

from assistant.clock import Clock
from assistant.config import HeartbeatConfig
from assistant.errors import TeamclawError
from assistant.heartbeat.checks import (
    ActiveMember,
    Finding,
    FollowupSource,
    TickFacts,
    checklist_findings,
    in_window,
    parse_window,
    read_checklist,
)
from assistant.heartbeat.prompt import is_nothing
from assistant.heartbeat.tables import HeartbeatCounter, HeartbeatSeen
from assistant.messages import Reply
from assistant.storage.db import Database
from assistant.storage.tables import Message

__all__ = ["Heartbeat", "HeartbeatHost", "HeartbeatState"]

log = logging.getLogger(__name__)

TURN_TIMEOUT_S = 120.0
SEEN_KEEP = timedelta(days=30)


class HeartbeatHost(Protocol):
    """Implemented by the daemon (the same object may serve as the scheduler's ``JobHost``).

    ``heartbeat_turn`` asks a model about ``findings`` for the member in a small isolated context (see
    ``heartbeat_request``: role "heartbeat", private, no history) and returns its answer; "nothing to report"
    answers are dropped by the heartbeat. ``deliver`` stores the reply in the outbox (idempotent by key)."""

    async def heartbeat_turn(self, member_id: int, findings: list[str]) -> str | None: ...

    async def deliver(self, reply: Reply, *, member_id: int | None) -> None: ...


class HeartbeatState(enum.Enum):
    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


class Heartbeat:
    def __init__(self, db: Database, clock: Clock, config: HeartbeatConfig, host: HeartbeatHost,
                 workspace_dir: Path, *, default_timezone: str = "UTC",
                 followups: FollowupSource | None = None) -> None:
        self._db = db
        self._clock = clock
        self._config = config
        self._host = host
        self._workspace = workspace_dir
        self._default_tz = default_timezone
        self._followups = followups
        self._active = parse_window(config.active_hours)
        self._quiet = parse_window(config.quiet_hours)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.state = HeartbeatState.NEW

    # ---- lifecycle ---------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.state is not HeartbeatState.NEW:
            raise TeamclawError("the heartbeat was started already; build a new one")
        self.state = HeartbeatState.RUNNING
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def aclose(self) -> None:
        if self.state is HeartbeatState.CLOSED:
            return
        self.state = HeartbeatState.CLOSED
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def next_beat_after(self, now: datetime) -> datetime:
        """Beats fall on multiples of the interval (:00 and :30 for 30 min), so a restart keeps the rhythm."""
        period = self._config.interval_min * 60
        stamp = (math.floor(now.timestamp() / period) + 1) * period
        return datetime.fromtimestamp(stamp, tz=now.tzinfo)

    async def _run(self) -> None:
        while True:
            await self._clock.sleep_until(self.next_beat_after(self._clock.now()), self._wake)
            self._wake.clear()
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("heartbeat beat failed; trying again at the next beat")

    # ---- one beat ----------------------------------------------------------------------------------------
    async def beat(self) -> list[int]:
        """Check every active member once; return the ids of the members who were sent a message."""
        now = self._clock.now()
        facts = TickFacts(self._db, self._config, self._default_tz)
        members = await facts.active_members(now)
        candidates = [m for m in members if self._awake(m, now)]
        if not candidates:
            return []
        await facts.load_questions(now)
        spoke = []
        for member in candidates:
            try:
                if await self._beat_member(member, now, facts):
                    spoke.append(member.id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("heartbeat for member %s failed", member.id)
        async with self._db.session() as s:
            await s.execute(delete(HeartbeatSeen).where(HeartbeatSeen.seen_at < now - SEEN_KEEP))
        return spoke

    def _awake(self, member: ActiveMember, now: datetime) -> bool:
        local = now.astimezone(_zone(member.timezone)).time()
        if self._active is not None and not in_window(local, self._active):
            return False
        return not in_window(local, self._quiet)

    async def findings(self, member: ActiveMember, now: datetime, facts: TickFacts) -> list[Finding]:
        """The cheap checks, in order of urgency. No model call happens here."""
        found = await facts.due_jobs(member, now)
        found += facts.unanswered_questions(member, now)
        if self._followups is not None:
            found += [Finding(f"followup:{key}", f"Follow-up you asked for: {text}")
                      for key, text in await self._followups.due_followups(member.id, now)]
        checklist = self._workspace / "members" / str(member.id) / self._config.checklist_file
        text = await read_checklist(checklist)
        if text:
            found += checklist_findings(text, now.astimezone(_zone(member.timezone)))
        return found

    async def _beat_member(self, member: ActiveMember, now: datetime, facts: TickFacts) -> bool:
        today = now.astimezone(_zone(member.timezone)).date()
        if await self._sent_on(member.id, today) >= self._config.daily_cap:
            return False
        found = await self.findings(member, now, facts)
        seen = await self._seen(member.id, [f.key for f in found])
        new = [f for f in found if f.key not in seen][: self._config.max_findings]
        if not new:
            return False
        async with asyncio.timeout(TURN_TIMEOUT_S):
            answer = await self._host.heartbeat_turn(member.id, [f.text for f in new])
        await self._mark_seen(member.id, [f.key for f in new], now)
        if answer is None or is_nothing(answer):
            return False
        chat = await self._direct_chat(member.id)
        if chat is None:
            log.info("heartbeat for member %s has something to say but no direct chat to say it in", member.id)
            return False
        channel, chat_id = chat
        reply = Reply(channel=channel, chat_id=chat_id, text=answer.strip(),
                      idempotency_key=f"hb:{member.id}:{now:%Y%m%dT%H%M%S}")
        await self._host.deliver(reply, member_id=member.id)
        await self._count_sent(member.id, today, now)
        return True

    # ---- bookkeeping -------------------------------------------------------------------------------------
    async def _sent_on(self, member_id: int, day: date) -> int:
        async with self._db.session() as s:
            state = await s.get(HeartbeatCounter, member_id)
        return state.sent if state is not None and state.day == day.isoformat() else 0

    async def _count_sent(self, member_id: int, day: date, now: datetime) -> None:
        async with self._db.session() as s:
            state = await s.get(HeartbeatCounter, member_id)
            if state is None:
                state = HeartbeatCounter(member_id=member_id, day=day.isoformat(), sent=0)
                s.add(state)
            if state.day != day.isoformat():
                state.day, state.sent = day.isoformat(), 0
            state.sent += 1
            state.last_spoke_at = now

    async def _seen(self, member_id: int, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        async with self._db.session() as s:
            rows = await s.execute(select(HeartbeatSeen.key).where(
                HeartbeatSeen.member_id == member_id, HeartbeatSeen.key.in_(keys)))
            return set(rows.scalars())

    async def _mark_seen(self, member_id: int, keys: list[str], now: datetime) -> None:
        async with self._db.session() as s:
            for key in keys:
                await s.merge(HeartbeatSeen(member_id=member_id, key=key, seen_at=now))

    async def _direct_chat(self, member_id: int) -> tuple[str, str] | None:
        async with self._db.session() as s:
            row = (await s.execute(select(Message.channel, Message.chat_id).where(
                Message.member_id == member_id, Message.direction == "in", Message.chat_kind == "direct")
                .order_by(Message.id.desc()).limit(1))).first()
        return (row[0], row[1]) if row else None

    async def sent_today(self, member_id: int, timezone: str | None = None) -> int:
        day = self._clock.now().astimezone(_zone(timezone or self._default_tz)).date()
        return await self._sent_on(member_id, day)
