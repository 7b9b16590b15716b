"""The heartbeat's cheap checks: plain queries and a file read, no model. A model is called only if one fires.

Each finding has a stable key, so the same question or checklist item costs at most one model call: jobs due
soon (one-shot jobs within ``due_soon_min``), questions addressed to the member in a group that they have not
answered, follow-ups the member asked for (from an optional source, e.g. the memory store), and unchecked items of
the member's checklist file that are due.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from assistant.config import HeartbeatConfig
from assistant.scheduler.tables import Job, JobState
from assistant.storage.db import Database
from assistant.storage.tables import Identity, Member, Message

__all__ = ["ActiveMember", "Finding", "FollowupSource", "TickFacts", "checklist_findings", "in_window",
           "parse_window"]

MAX_CHECKLIST_BYTES = 64_000
_UNCHECKED = re.compile(r"^\s*[-*+]\s+\[ \]\s+(?P<item>.+?)\s*$", re.M)
_DATE = re.compile(r"(?P<d>\d{4}-\d{2}-\d{2})(?:[ T@]+(?P<t>\d{1,2}:\d{2}))?")


@dataclass(frozen=True, slots=True)
class Finding:
    key: str  # stable: the same finding is raised once
    text: str  # one line the model reads


@dataclass(frozen=True, slots=True)
class ActiveMember:
    id: int
    name: str
    timezone: str
    names: tuple[str, ...]  # names people use to address the member (member name, platform display names)


@runtime_checkable
class FollowupSource(Protocol):
    """Follow-ups a member asked for ("check with me on Friday about the offer"), e.g. memory items of kind
    "followup". Returns (stable key, text) of those due by ``now``."""

    async def due_followups(self, member_id: int, now: datetime) -> Sequence[tuple[str, str]]: ...


def parse_window(text: str) -> tuple[time, time] | None:
    """'09:00-19:00' -> (09:00, 19:00); '' -> None (no window)."""
    if not text:
        return None
    start, end = text.split("-")
    return time.fromisoformat(start), time.fromisoformat(end)


def in_window(local: time, window: tuple[time, time] | None) -> bool:
    """Whether a local time lies in [start, end); a window may wrap midnight ('22:00-07:00')."""
    if window is None:
        return False
    start, end = window
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def _digest(text: str) -> str:
    return hashlib.sha1(text.strip().encode(), usedforsecurity=False).hexdigest()[:16]


def checklist_findings(text: str, local_now: datetime) -> list[Finding]:
    """Unchecked '- [ ] ...' items that are due: a dated item ('2026-06-01', '2026-06-01 14:00') once its time has
    come (raised once); an undated item once per day."""
    out: list[Finding] = []
    today = local_now.date()
    for m in _UNCHECKED.finditer(text):
        item = m.group("item")
        dated = _DATE.search(item)
        if dated:
            try:
                day = date.fromisoformat(dated.group("d"))
                at = time.fromisoformat(dated.group("t").zfill(5)) if dated.group("t") else time(0, 0)
            except ValueError:
                continue
            if datetime.combine(day, at, tzinfo=local_now.tzinfo) > local_now:
                continue
            out.append(Finding(f"checklist:{_digest(item)}", f"Checklist item due: {item}"))
        else:
            out.append(Finding(f"checklist:{_digest(item)}:{today.isoformat()}", f"Open checklist item: {item}"))
    return out


async def read_checklist(path: Path) -> str:
    def _read() -> str:
        try:
            with path.open("rb") as fh:
                return fh.read(MAX_CHECKLIST_BYTES).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    return await asyncio.to_thread(_read)


def _is_question(text: str) -> bool:
    stripped = text.rstrip()
    return stripped.endswith("?") or "？" in stripped


class TickFacts:
    """What one beat reads once for all members: active members, recent group questions, who spoke where."""

    def __init__(self, db: Database, config: HeartbeatConfig, default_timezone: str) -> None:
        self._db = db
        self._config = config
        self._default_tz = default_timezone
        self._questions: list[Message] = []
        self._last_said: dict[tuple[int, str, str], datetime] = {}

    async def active_members(self, now: datetime) -> list[ActiveMember]:
        since = now - timedelta(days=self._config.active_within_days)
        async with self._db.session() as s:
            rows = (await s.execute(
                select(Member).where(Member.id.in_(
                    select(Message.member_id).where(Message.direction == "in", Message.member_id.is_not(None),
                                                    Message.created_at >= since).distinct()))
                .order_by(Member.id))).scalars().all()
            idents = (await s.execute(select(Identity.member_id, Identity.display_name).where(
                Identity.member_id.in_([m.id for m in rows])))).all()
        names: dict[int, set[str]] = {}
        for member_id, display in idents:
            if display and len(display) >= 2:
                names.setdefault(member_id, set()).add(display)
        out = []
        for m in rows:
            known = {m.name} if m.name and len(m.name) >= 2 else set()
            out.append(ActiveMember(m.id, m.name, m.timezone or self._default_tz,
                                    tuple(sorted(known | names.get(m.id, set())))))
        return out

    async def load_questions(self, now: datetime) -> None:
        since = now - timedelta(hours=self._config.question_lookback_h)
        async with self._db.session() as s:
            self._questions = list((await s.execute(
                select(Message).where(Message.direction == "in", Message.chat_kind == "group",
                                      Message.created_at >= since,
                                      Message.text.contains("?") | Message.text.contains("？"))
                .order_by(Message.id))).scalars())
            rows = (await s.execute(
                select(Message.member_id, Message.channel, Message.chat_id, func.max(Message.created_at))
                .where(Message.direction == "in", Message.member_id.is_not(None), Message.created_at >= since)
                .group_by(Message.member_id, Message.channel, Message.chat_id))).all()
        self._last_said = {(member_id, channel, chat): at for member_id, channel, chat, at in rows
                           if member_id is not None}

    def unanswered_questions(self, member: ActiveMember, now: datetime) -> list[Finding]:
        newest = now - timedelta(minutes=self._config.question_min_age_min)
        lowered = [n.lower() for n in member.names]
        out = []
        for q in self._questions:
            if q.member_id == member.id or q.created_at > newest or not _is_question(q.text):
                continue
            text = q.text.lower()
            if not any(name in text for name in lowered):
                continue
            said = self._last_said.get((member.id, q.channel, q.chat_id))
            if said is not None and said > q.created_at:
                continue  # the member spoke in that chat after the question
            asker = q.sender_name or "someone"
            out.append(Finding(f"question:{q.id}", f"Unanswered question from {asker} in a group chat "
                                                   f"({q.created_at:%Y-%m-%d %H:%M} UTC): {q.text[:300]}"))
        return out

    async def due_jobs(self, member: ActiveMember, now: datetime) -> list[Finding]:
        if self._config.due_soon_min <= 0:
            return []
        until = now + timedelta(minutes=self._config.due_soon_min)
        async with self._db.session() as s:
            jobs = (await s.execute(select(Job).where(
                Job.member_id == member.id, Job.state == JobState.ACTIVE, Job.trigger_type == "date",
                Job.next_run_at > now, Job.next_run_at <= until))).scalars().all()
        tz = ZoneInfo(member.timezone)
        out = []
        for job in jobs:
            at = job.next_run_at
            if at is not None:
                out.append(Finding(f"job:{job.id}:{at:%Y%m%dT%H%M}",
                                   f"Scheduled job #{job.id} is due at {at.astimezone(tz):%H:%M}: {job.payload[:200]}"))
        return out
