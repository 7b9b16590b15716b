"""A small seeded teamclaw for dashboard tests: real SQLite rows, the real memory store (keyword search only),
and a stand-in for the scheduler's pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from assistant.clock import SystemClock
from assistant.config import Config, DashboardConfig, MemoryConfig
from assistant.messages import ChatKind, MemberScope
from assistant.services import Services
from assistant.storage.db import Database
from assistant.tools import ToolRegistry
from memory.store import MemoryStore

ALICE, BOB = 1, 2


class SchedulerStandIn:
    """The scheduler's pause, acting on the real ``jobs`` table as the scheduler does."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.paused: list[Any] = []

    async def pause(self, job_id: int) -> None:
        async with self.db.session() as session:
            await session.execute(text("UPDATE jobs SET state = 'paused' WHERE id = :id"), {"id": job_id})
        self.paused.append(job_id)


async def _ensure_jobs_table(db: Database) -> None:
    async with db.engine.begin() as conn:
        exists = await conn.run_sync(lambda c: inspect(c).has_table("jobs"))
        if not exists:
            from assistant.scheduler.tables import Job

            await conn.run_sync(lambda c: Job.__table__.create(c))


async def seeded_services(home: Path, *, token: str | None = None, now: datetime | None = None) -> Services:
    """A migrated database with two members, a week of model calls, queued messages and two jobs."""
    now = now or datetime.now(UTC)
    config = Config(home=home, dashboard=DashboardConfig(token=token, token_env=None))
    db = Database(config.database_url)
    await db.migrate()
    await _ensure_jobs_table(db)
    day = timedelta(days=1)
    async with db.session() as s:
        await s.execute(text(
            "INSERT INTO members (id, name, role, timezone, private, allowed, created_at) VALUES "
            "(1, 'Alice Zhang', 'owner', 'Asia/Shanghai', 0, 1, :t), (2, 'Bob Li', 'member', NULL, 1, 1, :t)"
        ), {"t": _db_time(now - 10 * day)})
        await s.execute(text(
            "INSERT INTO identities (member_id, channel, platform_user_id, display_name) VALUES "
            "(1, 'telegram', '111', 'alice'), (2, 'feishu', 'ou_bob', 'Bob')"
        ))
        calls = [
            (1, "gpt-cloud", 1200, 300, 0.125, now - 2 * day, True),
            (1, "gpt-cloud", 800, 100, 0.075, now - 2 * day, True),
            (2, "local", 500, 50, 0.0, now - 1 * day, True),
            (1, "gpt-cloud", 100, 0, 0.0, now - timedelta(hours=1), False),
            (2, "gpt-cloud", 2000, 700, 0.3, now - timedelta(hours=2), True),
        ]
        for member, model, t_in, t_out, cost, at, ok in calls:
            await s.execute(text(
                "INSERT INTO model_calls (member_id, role, model, provider_model, location, tokens_in, tokens_out, "
                "cached_tokens, cost, latency_ms, route_reason, private, ok, created_at) VALUES "
                "(:m, 'chat', :model, '', :loc, :i, :o, 0, :c, 420.0, '', 0, :ok, :at)"
            ), {"m": member, "model": model, "loc": "local" if model == "local" else "cloud", "i": t_in,
                "o": t_out, "c": cost, "ok": ok, "at": _db_time(at)})
        for direction, status, member in [("in", "received", 1), ("in", "received", 2), ("in", "processing", 1),
                                          ("in", "answered", 1), ("out", "pending", None), ("out", "dead", None)]:
            await s.execute(text(
                "INSERT INTO messages (direction, channel, chat_id, chat_kind, member_id, sender_id, sender_name, "
                "text, addressed, status, attempts, extra, created_at) VALUES "
                "(:d, 'telegram', '-100', 'group', :m, '', '', 'hi', 1, :s, 0, '{}', :t)"
            ), {"d": direction, "s": status, "m": member, "t": _db_time(now - timedelta(minutes=5))})
        for job_id, state, description in [(7, "active", "every weekday at 09:00"), (8, "paused", "every hour")]:
            await _insert_filled(s, "jobs", {
                "id": job_id, "member_id": 1, "owner_name": "Alice Zhang", "channel": "telegram", "chat_id": "-100",
                "created_by": 1, "kind": "reminder", "payload": "stand-up", "trigger_type": "cron",
                "trigger_spec": "{}", "description": description, "timezone": "Asia/Shanghai", "state": state,
                "next_run_at": _db_time(now + day), "created_at": _db_time(now - day),
            })
    memory = await MemoryStore.open(MemoryConfig(embedder="none"), db, home)
    await memory.remember(_direct(ALICE, "Alice Zhang"), "Alice prefers tea over coffee")
    await memory.remember(_direct(BOB, "Bob Li"), "Bob's locker code is 4711")
    await memory.remember(_direct(ALICE, "Alice Zhang"), "The team ships on Thursdays", visibility="team")
    return Services(config=config, db=db, router=None, tools=ToolRegistry(), clock=SystemClock(),  # type: ignore[arg-type]
                    memory=memory, scheduler=SchedulerStandIn(db))


async def _insert_filled(session: Any, table: str, values: dict[str, Any]) -> None:
    """Insert a row into another part's table, filling its other required columns with empty values, so the
    seed keeps working while that table gains columns."""
    columns = (await session.execute(text(f"PRAGMA table_info({table})"))).all()
    row = dict(values)
    for _cid, name, kind, notnull, default, pk in columns:
        if name not in row and notnull and default is None and not pk:
            row[name] = 0 if any(t in str(kind).upper() for t in ("INT", "FLOAT", "REAL", "NUM", "BOOL")) else ""
    names = ", ".join(row)
    await session.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + n for n in row)})"), row)


def _direct(member_id: int, name: str) -> MemberScope:
    return MemberScope(member_id=member_id, member_name=name, channel="telegram", chat_id=str(member_id),
                       chat_kind=ChatKind.DIRECT)


def _db_time(when: datetime) -> str:
    # The text SQLAlchemy's DateTime stores on SQLite (naive UTC), so raw inserts match ORM-written rows.
    return when.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
