"""The dashboard's read-only SQL: usage per day, queue depth, members, models and scheduled jobs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from assistant.storage.db import Database
from assistant.storage.tables import UTCDateTime

__all__ = ["jobs", "members", "model_health", "queue_depth", "usage_by_day"]

log = logging.getLogger(__name__)

# Columns of the scheduler's ``jobs`` table the page shows, when present. The table belongs to the scheduler;
# the dashboard reads whatever of these exists and never fails because one is missing.
JOB_COLUMNS = (
    "id", "member_id", "owner_name", "name", "description", "kind", "trigger_type", "timezone", "channel",
    "chat_id", "state", "next_run_at", "last_run_at",
)


def _iso(value: Any) -> Any:
    """Times as ISO 8601 in UTC. Aggregates (MAX) over raw SQL come back from SQLite as stored naive text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def _day(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).date().isoformat()


async def usage_by_day(db: Database, *, since: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Cost and tokens per day (in the team's time zone), member and model since ``since``, oldest first."""
    sql = text(
        "SELECT mc.created_at AS at, mc.member_id AS member_id, COALESCE(m.name, '') AS member, "
        "mc.model AS model, mc.tokens_in AS tokens_in, mc.tokens_out AS tokens_out, mc.cost AS cost "
        "FROM model_calls mc LEFT JOIN members m ON m.id = mc.member_id WHERE mc.created_at >= :since"
    ).bindparams(bindparam("since", type_=UTCDateTime())).columns(at=UTCDateTime())
    totals: dict[tuple[str, Any, str], dict[str, Any]] = {}
    async with db.engine.connect() as conn:
        rows = (await conn.execute(sql, {"since": since})).mappings().all()
    for row in rows:
        key = (_day(row["at"], zone), row["member_id"], row["model"])
        entry = totals.setdefault(key, {
            "day": key[0], "member_id": row["member_id"], "member": row["member"] or "(team)",
            "model": row["model"], "calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": 0.0,
        })
        entry["calls"] += 1
        entry["tokens_in"] += int(row["tokens_in"] or 0)
        entry["tokens_out"] += int(row["tokens_out"] or 0)
        entry["cost"] += float(row["cost"] or 0.0)
    return sorted(totals.values(), key=lambda e: (e["day"], e["member"], e["model"]))


async def queue_depth(db: Database) -> dict[str, int]:
    """Inbound messages waiting or being handled, outbound replies pending or given up."""
    sql = text("SELECT direction, status, COUNT(*) AS n FROM messages GROUP BY direction, status")
    depth = {"inbound_received": 0, "inbound_processing": 0, "outbox_pending": 0, "outbox_dead": 0}
    async with db.engine.connect() as conn:
        for direction, status, n in (await conn.execute(sql)).all():
            key = f"{'inbound' if direction == 'in' else 'outbox'}_{status}"
            if key in depth:
                depth[key] = int(n)
    return depth


async def members(db: Database) -> list[dict[str, Any]]:
    """Members with their identities and the time of their last message (their sub-agent's last activity)."""
    async with db.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT m.id, m.name, m.role, m.timezone, m.private, m.allowed, "
            "(SELECT MAX(created_at) FROM messages WHERE member_id = m.id) AS last_message_at, "
            "(SELECT MAX(created_at) FROM model_calls WHERE member_id = m.id) AS last_model_call_at "
            "FROM members m ORDER BY m.name"
        ))).mappings().all()
        identities = (await conn.execute(text(
            "SELECT member_id, channel, platform_user_id, display_name FROM identities"
        ))).mappings().all()
    by_member: dict[int, list[str]] = {}
    for ident in identities:
        by_member.setdefault(ident["member_id"], []).append(f"{ident['channel']}:{ident['platform_user_id']}")
    return [
        {
            "id": row["id"], "name": row["name"], "role": row["role"], "timezone": row["timezone"],
            "private": bool(row["private"]), "allowed": bool(row["allowed"]),
            "identities": sorted(by_member.get(row["id"], [])),
            "last_activity_at": _iso(max(
                (v for v in (row["last_message_at"], row["last_model_call_at"]) if v is not None),
                default=None, key=str,
            )),
        }
        for row in rows
    ]


async def model_health(db: Database, *, now: datetime) -> list[dict[str, Any]]:
    """Per model over the last 24 hours: calls, failures, mean latency and when it last answered."""
    sql = text(
        "SELECT model, location, COUNT(*) AS calls, SUM(CASE WHEN ok THEN 0 ELSE 1 END) AS failures, "
        "AVG(CASE WHEN ok THEN latency_ms END) AS mean_latency_ms, "
        "MAX(CASE WHEN ok THEN created_at END) AS last_ok_at, MAX(created_at) AS last_call_at "
        "FROM model_calls WHERE created_at >= :since GROUP BY model, location ORDER BY model"
    ).bindparams(bindparam("since", type_=UTCDateTime()))
    since = now - timedelta(hours=24)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(sql, {"since": since})).mappings().all()
    return [
        {
            "model": r["model"], "location": r["location"], "calls": int(r["calls"]),
            "failures": int(r["failures"] or 0),
            "mean_latency_ms": None if (mean := r["mean_latency_ms"]) is None else round(float(mean), 1),
            "last_ok_at": _iso(r["last_ok_at"]), "last_call_at": _iso(r["last_call_at"]),
        }
        for r in rows
    ]


async def jobs(db: Database) -> list[dict[str, Any]] | None:
    """Scheduled jobs, soonest first; None when the scheduler's table does not exist (not installed)."""
    async with db.engine.connect() as conn:
        try:
            result = await conn.execute(text("SELECT * FROM jobs LIMIT 500"))
        except (OperationalError, ProgrammingError) as exc:
            if "no such table" in str(exc) or "does not exist" in str(exc):
                return None
            raise
        rows = [dict(r) for r in result.mappings().all()]
    picked = [{k: _iso(row[k]) for k in JOB_COLUMNS if k in row} for row in rows]
    return sorted(picked, key=lambda j: (j.get("next_run_at") is None, str(j.get("next_run_at") or "")))
