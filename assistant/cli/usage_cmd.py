"""``teamclaw usage``: tokens, cache hits and cost by member, model and route reason, from ``model_calls``."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from assistant.config import Config, load_config
from assistant.messages import utcnow
from assistant.storage.db import Database
from assistant.usage import DEFAULT_REPORT_DAYS, UsageReport, format_report, usage_report

__all__ = ["register"]

ConfigOption = Annotated[str | None, typer.Option("--config", "-c", help="Path to teamclaw.toml.",
                                                  envvar="TEAMCLAW_CONFIG")]


def _no_database(cfg: Config) -> bool:
    url = cfg.database_url
    if not (url.startswith("sqlite") and ":///" in url):
        return False
    path = url.split(":///", 1)[1]
    return not path or path == ":memory:" or not Path(path).expanduser().exists()


async def _report(cfg: Config, days: int, member: int | None) -> UsageReport:
    db = Database(cfg.database_url)
    try:
        await db.migrate()
        return await usage_report(db, since=utcnow() - timedelta(days=days), member_id=member)
    finally:
        await db.aclose()


def usage(
    days: Annotated[int, typer.Option(min=1, max=3660, help="How many days back.")] = DEFAULT_REPORT_DAYS,
    member: Annotated[int | None, typer.Option(help="Only this member id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show model usage and cost by member, model and route reason."""
    cfg = load_config(config)
    if _no_database(cfg):
        typer.echo(f"no database yet at {cfg.database_url.split(':///', 1)[1]}: nothing has been used")
        return
    report = asyncio.run(_report(cfg, days, member))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        who = f"Member {member}" if member is not None else "Team"
        typer.echo(format_report(report, f"{who} model usage, last {days} days"))


def register(app: typer.Typer) -> None:
    app.command()(usage)
