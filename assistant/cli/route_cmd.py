"""``teamclaw route``: how a message would be routed (private? local or cloud? which model, why), sending nothing.

One message as an argument, or JSON lines on stdin with ``--stdin`` (``{"id": ..., "text": ...}`` in, one JSON
decision per line out, in input order) for running a labelled set through the router.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.config import Config, Role, load_config
from assistant.errors import StorageError, TeamclawError
from assistant.messages import ChatKind, MemberScope
from assistant.storage.db import Database

__all__ = ["decision", "register"]

ConfigOption = Annotated[str | None, typer.Option("--config", "-c", help="Path to teamclaw.toml.",
                                                  envvar="TEAMCLAW_CONFIG")]
_ROLES = ("chat", "tool_step", "compaction", "extraction", "heartbeat", "classification", "subagent")


def _scope(member: str | None, chat: str | None) -> MemberScope | None:
    """A scope from "--member telegram:123" (a direct chat) and/or "--chat feishu:oc_x" (a group)."""
    if member is None and chat is None:
        return None
    member_id = 0
    channel, _, ident = (member or "").partition(":")
    if channel == "member" and ident.isdigit():
        member_id, channel, ident = int(ident), "", ""
    if chat is not None:
        chat_channel, _, chat_id = chat.partition(":")
        return MemberScope(member_id=member_id, member_name=member or "", channel=chat_channel, chat_id=chat_id,
                           chat_kind=ChatKind.GROUP)
    return MemberScope(member_id=member_id, member_name=member or "", channel=channel or "console",
                       chat_id=ident, chat_kind=ChatKind.DIRECT)


def decision(route: Any, item_id: object = None) -> dict[str, object]:
    """The stable JSON shape of one decision (documented in docs/router.md)."""
    return {
        "id": item_id,
        "private": route.private,
        "location": route.location,
        "model": route.model,
        "tier": route.tier,
        "difficulty": route.difficulty,
        "reason": route.reason,
        "findings": list(route.findings),
        "chain": list(route.chain),
    }


def _database(cfg: Config) -> Database:
    """The team's database when it exists (budgets, remembered outcomes), else an empty one in memory: routing a
    message must not create files."""
    url = cfg.database_url
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if not path or path == ":memory:" or not Path(path).expanduser().exists():
            return Database("sqlite+aiosqlite:///:memory:")
    return Database(url)


async def _decide(cfg: Config, items: list[tuple[object, str]], role: Role, scope: MemberScope | None,
                  ) -> list[dict[str, object]]:
    from assistant.router import Router

    db = _database(cfg)
    router = Router(cfg, db)
    try:
        if db.url != "sqlite+aiosqlite:///:memory:":
            try:
                await router.refresh(scope)
            except Exception as exc:  # an old or unreadable database: explain on the text alone
                if isinstance(exc, asyncio.CancelledError):
                    raise
                typer.echo(f"note: budgets and remembered outcomes not loaded ({type(exc).__name__})", err=True)
        out: list[dict[str, object]] = []
        for item_id, text in items:
            try:
                out.append(decision(router.explain(text, role=role, scope=scope), item_id))
            except TeamclawError as exc:
                out.append({"id": item_id, "error": str(exc)})
        return out
    finally:
        await router.aclose()
        await db.aclose()


def _read_stdin() -> list[tuple[object, str]]:
    items: list[tuple[object, str]] = []
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = line.rstrip("\n")
        if isinstance(record, dict):
            items.append((record.get("id", number), str(record.get("text", ""))))
        else:
            items.append((number, str(record)))
    return items


def route(
    text: Annotated[str | None, typer.Argument(help="The message to route.")] = None,
    member: Annotated[str | None, typer.Option(help="Route as this member: 'channel:platform_user_id' "
                                                    "or 'member:<id>'.")] = None,
    chat: Annotated[str | None, typer.Option(help="Route as said in this group: 'channel:chat_id'.")] = None,
    role: Annotated[str, typer.Option(help=f"The call's role: {', '.join(_ROLES)}.")] = "chat",
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read JSON lines {\"id\", \"text\"} from stdin; "
                                                        "print one JSON decision per line.")] = False,
    config: ConfigOption = None,
) -> None:
    """Explain how a message would be routed, without sending it anywhere."""
    if role not in _ROLES:
        raise typer.BadParameter(f"unknown role {role!r}: use one of {', '.join(_ROLES)}", param_hint="--role")
    if (text is None) == (not stdin):
        raise typer.BadParameter("give the message as an argument, or --stdin (not both)")
    cfg = load_config(config)
    items = _read_stdin() if stdin else [(None, text or "")]
    try:
        results = asyncio.run(_decide(cfg, items, role, _scope(member, chat)))  # type: ignore[arg-type]
    except StorageError as exc:
        raise TeamclawError(f"routing needs the database: {exc}") from exc
    if stdin or as_json:
        for result in results:
            typer.echo(json.dumps(result, ensure_ascii=False))
        return
    result = results[0]
    if "error" in result:
        raise TeamclawError(str(result["error"]))
    typer.echo(f"{'private' if result['private'] else 'not private'} -> {result['model']} ({result['location']}), "
               f"needs tier {result['tier']} ({result['difficulty']})")
    typer.echo(f"reason: {result['reason']}")
    findings, chain = result["findings"], result["chain"]
    if isinstance(findings, list) and findings:
        typer.echo(f"found: {', '.join(str(f) for f in findings)}")
    if isinstance(chain, list):
        typer.echo(f"would try: {' -> '.join(str(c) for c in chain)}")


def register(app: typer.Typer) -> None:
    app.command()(route)
