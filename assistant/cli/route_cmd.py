"""``teamclaw route``: how a message would be routed (private? local or cloud? which model, why), sending nothing.

One message as an argument, or lines on stdin with ``--stdin`` (JSON objects ``{"id": ..., "text": ...}`` or plain
text) for running a labelled set through the router: each line is answered with one JSON decision, written and
flushed as soon as the line arrives, so a caller can drive it one line at a time.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant.cli.stdin import numbered_lines
from assistant.config import Config, Role, load_config
from assistant.errors import StorageError, TeamclawError
from assistant.messages import ChatKind, MemberScope, utcnow
from assistant.privacy import Finding
from assistant.providers.base import ModelRequest
from assistant.storage.db import Database

if TYPE_CHECKING:
    from assistant.sensitivity import Judge

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


def _span(text: str, finding: Finding) -> dict[str, object]:
    return {"kind": finding.kind, "start": finding.start, "end": finding.end,
            "text": text[finding.start:finding.end], "confidence": finding.confidence}


def decision(route: Any, item_id: object = None, *, text: str = "",
             findings: tuple[Finding, ...] = ()) -> dict[str, object]:
    """The stable JSON shape of one decision (documented in docs/router.md); ``findings`` are the detector's own,
    for the spans."""
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
        "spans": [_span(text, f) for f in findings],
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


Answer = Callable[[object, str], Awaitable[dict[str, object]]]


class _Recall:
    """What the member's turn would recall, as the daemon's agent recalls it: only with ``--member`` and a team
    database that exists (routing a message must not create files)."""

    def __init__(self, store: Any, scope: MemberScope, keep_local: bool, budget: int) -> None:
        self._store, self.scope, self._keep_local, self._budget = store, scope, keep_local, budget

    @classmethod
    async def open(cls, cfg: Config, db: Database, scope: MemberScope | None, keep_local: bool,
                   judge: Judge) -> _Recall | None:
        if scope is None or not scope.member_name or not cfg.memory.enabled or cfg.memory.recall_k == 0 \
                or db.url == "sqlite+aiosqlite:///:memory:":
            return None
        from assistant.members import Directory
        from memory.store import MemoryStore

        if scope.member_id == 0:
            found = await Directory(db, cfg.team, cfg.access, cfg.routing).find(scope.member_name)
            if found is None:
                typer.echo(f"note: no member {scope.member_name!r} in this team's database: nothing recalled",
                           err=True)
                return None
            scope = replace(scope, member_id=found.id, member_name=found.name, private=bool(found.private))
        store = await MemoryStore.open(cfg.memory, db, cfg.data_dir, chroma_url=cfg.storage.chroma_url, judge=judge)
        return cls(store, scope, keep_local, cfg.memory.recall_token_budget)

    async def request(self, text: str) -> tuple[ModelRequest, dict[str, object]]:
        """The member's message with the memory block the agent would add, and what was recalled."""
        from assistant.context import ContextBuilder

        # As in a turn: a group reply gets none of the member's private notes; with no local model, nothing
        # sensitive.
        block = await self._store.context_block(
            self.scope, text, self._budget, include_private=self.scope.chat_kind is ChatKind.DIRECT,
            include_sensitive=self._keep_local)
        user = ContextBuilder.user_message(self.scope, text, utcnow(), memory=block.text, private=block.private)
        recalled = {"recalled": len(block.ids), "memory_private": block.private,
                    "withheld_private": len(block.withheld_private),
                    "withheld_sensitive": len(block.withheld_sensitive)}
        return ModelRequest(messages=(user,)), recalled

    async def aclose(self) -> None:
        await self._store.aclose()


async def _with_router(cfg: Config, role: Role, scope: MemberScope | None,
                       work: Callable[[Answer], Awaitable[None]]) -> None:
    """Open the router once, hand ``work`` a function that decides one (id, text), close everything after."""
    from assistant.router import Router

    db = _database(cfg)
    router = Router(cfg, db)
    detector = router.judge.detector()  # the router's own, for the spans: the text is scanned once, then cached
    recall: _Recall | None = None
    try:
        if db.url != "sqlite+aiosqlite:///:memory:":
            try:
                await router.refresh(scope)
                recall = await _Recall.open(cfg, db, scope, keep_local=bool(router.local_models()),
                                            judge=router.judge)
            except Exception as exc:  # an old or unreadable database: explain on the text alone
                if isinstance(exc, asyncio.CancelledError):
                    raise
                typer.echo(f"note: budgets, outcomes or memory not loaded ({type(exc).__name__})", err=True)
        who = recall.scope if recall is not None else scope

        async def answer(item_id: object, text: str) -> dict[str, object]:
            started = time.perf_counter()
            try:
                if recall is None:
                    result = decision(router.explain(text, role=role, scope=who), item_id, text=text,
                                      findings=detector.scan(text))
                else:
                    request, recalled = await recall.request(text)
                    result = decision(router.decide(request, role=role, scope=who), item_id, text=text,
                                      findings=detector.scan(text))
                    result.update(recalled)
            except TeamclawError as exc:
                result = {"id": item_id, "error": str(exc)}
            result["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
            return result

        await work(answer)
    finally:
        if recall is not None:
            await recall.aclose()
        await router.aclose()
        await db.aclose()


def _parse_line(line: str, number: int) -> tuple[object, str]:
    """A JSON object with ``text`` (and ``id``), or the line itself as the text."""
    try:
        record = json.loads(line)
    except ValueError:
        return number, line.rstrip("\n")
    if isinstance(record, dict):
        return record.get("id", number), str(record.get("text", ""))
    return number, line.rstrip("\n") if not isinstance(record, str) else record


async def _stream(answer: Answer) -> None:
    """Answer stdin line by line as the lines arrive; each answer is flushed before the next line is read."""
    async for number, line in numbered_lines():
        item_id, text = _parse_line(line, number)
        sys.stdout.write(json.dumps(await answer(item_id, text), ensure_ascii=False) + "\n")
        sys.stdout.flush()


def route(
    text: Annotated[str | None, typer.Argument(help="The message to route.")] = None,
    member: Annotated[str | None, typer.Option(help="Route as this member: 'channel:platform_user_id' "
                                                    "or 'member:<id>'.")] = None,
    chat: Annotated[str | None, typer.Option(help="Route as said in this group: 'channel:chat_id'.")] = None,
    role: Annotated[str, typer.Option(help=f"The call's role: {', '.join(_ROLES)}.")] = "chat",
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    stdin: Annotated[bool, typer.Option("--stdin", help="Read lines (JSON {\"id\", \"text\"} or plain text) from "
                                                        "stdin; answer each with one JSON line, as it arrives.")
                     ] = False,
    config: ConfigOption = None,
) -> None:
    """Explain how a message would be routed, without sending it anywhere."""
    if role not in _ROLES:
        raise typer.BadParameter(f"unknown role {role!r}: use one of {', '.join(_ROLES)}", param_hint="--role")
    if (text is None) == (not stdin):
        raise typer.BadParameter("give the message as an argument, or --stdin (not both)")
    cfg = load_config(config)
    results: list[dict[str, object]] = []

    async def one(answer: Answer) -> None:
        results.append(await answer(None, text or ""))

    try:
        asyncio.run(_with_router(cfg, role, _scope(member, chat), _stream if stdin else one))  # type: ignore[arg-type]
    except StorageError as exc:
        raise TeamclawError(f"routing needs the database: {exc}") from exc
    if stdin:
        return
    result = results[0]
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False))
        return
    if "error" in result:
        raise TeamclawError(str(result["error"]))
    typer.echo(f"{'private' if result['private'] else 'not private'} -> {result['model']} ({result['location']}), "
               f"needs tier {result['tier']} ({result['difficulty']})")
    typer.echo(f"reason: {result['reason']}")
    spans, chain = result["spans"], result["chain"]
    if isinstance(spans, list) and spans:
        shown = [f"{s['kind']} \"{s['text'] if len(str(s['text'])) <= 60 else str(s['text'])[:57] + '...'}\" "
                 f"[{s['start']}:{s['end']}] {s['confidence']}" for s in spans]
        typer.echo("found: " + "; ".join(shown))
    if isinstance(chain, list):
        typer.echo(f"would try: {' -> '.join(str(c) for c in chain)}")


def register(app: typer.Typer) -> None:
    app.command()(route)
