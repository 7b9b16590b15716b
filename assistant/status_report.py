"""``teamclaw status``: what the running daemon last reported plus what the database says now."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import func, select

from assistant.config import Config
from assistant.messages import utcnow
from assistant.pids import pid_alive
from assistant.storage.db import Database
from assistant.storage.tables import Message, ModelCall

__all__ = ["collect_status", "print_status"]


async def collect_status(cfg: Config) -> dict[str, Any]:
    report: dict[str, Any] = {"home": str(cfg.data_dir), "daemon": {"running": False}}
    status_file = cfg.data_dir / "run" / "status.json"
    if status_file.exists():
        daemon = json.loads(status_file.read_text(encoding="utf-8"))
        daemon["running"] = bool(daemon.get("running")) and pid_alive(int(daemon.get("pid", 0)))
        report["daemon"] = daemon
    db = Database(cfg.database_url)
    try:
        await db.migrate()
        async with db.session() as s:
            async def count(*where: Any) -> int:
                return int((await s.execute(select(func.count()).select_from(Message).where(*where))).scalar_one())

            report["queue"] = {
                "inbound_waiting": await count(Message.direction == "in",
                                               Message.status.in_(("received", "processing"))),
                "outbound_pending": await count(Message.direction == "out",
                                                Message.status.in_(("pending", "sending"))),
                "dead_letters": await count(Message.direction == "out", Message.status == "dead"),
            }
            dead = (await s.execute(select(Message).where(Message.direction == "out", Message.status == "dead")
                                    .order_by(Message.id.desc()).limit(10))).scalars().all()
            report["dead_letters"] = [{"id": m.id, "channel": m.channel, "chat": m.chat_id,
                                       "error": m.last_error} for m in dead]
            since = utcnow() - timedelta(days=1)
            row = (await s.execute(select(func.count(), func.coalesce(func.sum(ModelCall.cost), 0.0),
                                          func.coalesce(func.sum(ModelCall.tokens_in + ModelCall.tokens_out), 0))
                                   .where(ModelCall.created_at >= since))).one()
            report["usage_24h"] = {"calls": row[0], "cost": round(float(row[1]), 4), "tokens": int(row[2])}
        if not db.is_sqlite:
            from assistant.leases import describe_processes

            report["processes"] = await describe_processes(db)
    finally:
        await db.aclose()
    health = report["daemon"].get("models") or {}
    report["models"] = {name: {"location": m.location, "provider": m.provider, "model": m.model or "bundled",
                               **({"reachable": health[name].get("reachable"),
                                   "latency_ms": health[name].get("latency_ms")} if name in health else {})}
                        for name, m in cfg.all_models().items()}
    return report


def print_status(report: dict[str, Any], out: Console) -> None:
    daemon = report["daemon"]
    state = "[green]running[/green]" if daemon.get("running") else "[red]not running[/red]"
    out.print(f"daemon: {state}  (home {report['home']})")
    if daemon.get("started_at"):
        out.print(f"started {daemon['started_at']}, last report {daemon.get('updated_at')}")
    table = Table("channel", "connected", "last event")
    for name, ch in (daemon.get("channels") or {}).items():
        table.add_row(name, "yes" if ch.get("connected") else "NO", ch.get("last_event_at") or "-")
    if table.row_count:
        out.print(table)
    q = report.get("queue", {})
    out.print(f"queue: {q.get('inbound_waiting', 0)} inbound waiting, {q.get('outbound_pending', 0)} replies "
              f"pending, {q.get('dead_letters', 0)} dead letters")
    for dead in report.get("dead_letters", []):
        out.print(f"  dead #{dead['id']} {dead['channel']}:{dead['chat']} {escape(str(dead['error']))}  (replay: "
                  f"/replay {dead['id']})", soft_wrap=True)
    usage = report.get("usage_24h", {})
    out.print(f"last 24 h: {usage.get('calls', 0)} model calls, {usage.get('tokens', 0)} tokens, "
              f"cost {usage.get('cost', 0)}")
    models = Table("model", "where", "provider", "name", "reachable", "latency")
    for name, m in report.get("models", {}).items():
        reachable = {True: "yes", False: "NO"}.get(m.get("reachable"), "-")  # type: ignore[arg-type]
        latency = f"{m['latency_ms']} ms" if m.get("latency_ms") is not None else "-"
        models.add_row(name, m["location"], m["provider"], m["model"], reachable, latency)
    out.print(models)
    processes = report.get("processes")
    if processes is not None:
        table = Table("process", "alive", "last heartbeat", "receives", "runs", "member lanes", "queue")
        for p in processes:
            table.add_row(f"{p['host']}:{p['pid']}", "yes" if p["alive"] else "NO (leases expire)",
                          p["heartbeat_at"], ", ".join(p["receivers"]) or "-", ", ".join(p["singletons"]) or "-",
                          str(p["lanes"]), str(p["queue_depth"]))
        out.print(f"{len(processes)} process(es) on this database:")
        out.print(table)
