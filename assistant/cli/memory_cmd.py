"""``teamclaw memory ...``: ingest, search, list, show, export, import, forget, rebuild, consolidate, undo.

``ingest`` and ``search`` are the stable interface external benchmarks drive (JSON lines in, JSON lines out);
docs/memory.md specifies them. ``--scope`` strings:

    member:<name-or-id>                         a member (writes: private to them; reads: theirs + team)
    member:<name-or-id>@group:<channel>:<chat>  that member reading inside a group (theirs + group + team)
    group:<channel>:<chat_id>                   a group (writes: group memory; reads: group + team)
    team                                        team memory (writes: team; reads: team)
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import func, select

from assistant.cli.stdin import numbered_lines
from assistant.config import load_config
from assistant.errors import ScopeError
from assistant.messages import ChatKind, MemberScope
from assistant.storage.db import Database
from assistant.storage.tables import Identity, Member

__all__ = ["ScopeSpec", "find_member", "parse_scope", "register", "scope_of"]

ConfigOption = Annotated[str | None, typer.Option("--config", "-c", help="Path to teamclaw.toml.",
                                                  envvar="TEAMCLAW_CONFIG")]
ScopeOption = Annotated[str, typer.Option("--scope", "-s", help="member:<name-or-id>[@group:<channel>:<chat_id>], "
                                                             "group:<channel>:<chat_id> or team")]
INGEST_BATCH = 512  # lines per transaction; their vectors follow in the background
CLI_CHANNEL = "cli"


@dataclass(frozen=True, slots=True)
class ScopeSpec:
    """A parsed ``--scope``: ``member`` (name or id) and/or ``group`` key, or ``team``."""

    member: str | None
    group: str | None
    team: bool

    @property
    def visibility(self) -> str:
        if self.team:
            return "team"
        return "private" if self.member is not None else "group"


def parse_scope(raw: str) -> ScopeSpec:
    text = raw.strip()
    if text == "team":
        return ScopeSpec(None, None, True)
    member: str | None = None
    group: str | None = None
    head, _, tail = text.partition("@")
    for part in (head, tail) if tail else (head,):
        kind, _, value = part.partition(":")
        if kind == "member" and value and member is None:
            member = value
        elif kind == "group" and ":" in value and value.split(":", 1)[1] and group is None:
            group = value
        else:
            raise ScopeError(f"--scope {raw!r} is not understood: use member:<name-or-id>, "
                             "member:<id>@group:<channel>:<chat_id>, group:<channel>:<chat_id> or team")
    if tail and not (head.startswith("member:") and tail.startswith("group:")):
        raise ScopeError(f"--scope {raw!r}: the viewer form is member:<name-or-id>@group:<channel>:<chat_id>")
    return ScopeSpec(member, group, False)


async def find_member(db: Database, ref: str, *, create: bool) -> tuple[int, str]:
    async with db.session() as session:
        if ref.isdigit():
            row = await session.get(Member, int(ref))
        else:
            row = (await session.scalars(select(Member).where(func.lower(Member.name) == ref.lower())
                                         .order_by(Member.id))).first()
        if row is not None:
            return row.id, row.name
        if not create or ref.isdigit():
            raise ScopeError(f"no member {ref!r}: check `teamclaw memory list` or use the member's id")
        row = Member(name=ref, role="member")
        session.add(row)
        await session.flush()
        session.add(Identity(member_id=row.id, channel=CLI_CHANNEL, platform_user_id=ref.lower(), display_name=ref))
        return row.id, ref


async def scope_of(db: Database, spec: ScopeSpec, *, create: bool = False) -> MemberScope:
    member_id, name = (0, "team") if spec.member is None else await find_member(db, spec.member, create=create)
    if spec.group:
        channel, _, chat = spec.group.partition(":")
        return MemberScope(member_id, name, channel, chat, ChatKind.GROUP, is_admin=True)
    return MemberScope(member_id, name, CLI_CHANNEL, "team" if spec.team else f"member-{member_id}",
                       ChatKind.DIRECT, is_admin=True)


@asynccontextmanager
async def _opened(config: str | None) -> AsyncIterator[tuple[Any, Database]]:
    from assistant.sensitivity import Judge
    from memory.store import MemoryStore

    cfg = load_config(config)
    db = Database(cfg.database_url)
    try:
        await db.migrate()
        store = await MemoryStore.open(cfg.memory, db, cfg.data_dir, chroma_url=cfg.storage.chroma_url,
                                       judge=Judge.for_routing(cfg.routing))
        try:
            yield store, db
        finally:
            await store.aclose()
    finally:
        await db.aclose()


def _emit(obj: dict[str, Any]) -> None:
    # Flushed per line: an evaluator reading our stdout through a pipe sees each answer as it is written.
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _parse_time(value: Any) -> datetime | None:
    from memory.ingest import parse_time

    return parse_time(value)


async def _ingest(config: str | None, scope_raw: str, extract: bool) -> dict[str, Any]:
    from memory.ingest import ChatLine, LineError, ingest, parse_line

    spec = parse_scope(scope_raw)
    if spec.member is not None and spec.group is not None:
        raise ScopeError("ingest writes to one place: use member:<name>, group:<channel>:<chat_id> or team")
    started = time.perf_counter()
    skipped = 0
    async with _opened(config) as (store, db):
        async with db.session() as session:
            members_before = int((await session.execute(select(func.count(Member.id)))).scalar_one())
        scope = await scope_of(db, spec, create=True)

        async def lines() -> AsyncIterator[ChatLine]:
            nonlocal skipped
            async for number, raw in numbered_lines():
                try:
                    yield parse_line(raw)
                except LineError as exc:
                    sys.stderr.write(f"line {number}: {exc}; line skipped, nothing written for it\n")
                    skipped += 1

        async def speaker_id(name: str) -> int:
            return (await find_member(db, name, create=True))[0]

        counts = await ingest(store, scope, spec.visibility, lines(), speaker_id, extract=extract,
                              batch_size=INGEST_BATCH)
        async with db.session() as session:
            members_after = int((await session.execute(select(func.count(Member.id)))).scalar_one())
    seconds = time.perf_counter() - started
    return {"ingested": counts.ingested, "facts": counts.facts, "skipped": skipped,
            "members_created": members_after - members_before, "scope": scope_raw, "seconds": round(seconds, 3),
            "lines_per_s": round(counts.ingested / seconds, 1) if seconds else 0.0}


def _result(r: Any, rank: int, query_id: Any, elapsed_ms: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id, "text": r.text, "score": r.score, "rank": rank, "kind": r.kind, "speaker": r.speaker,
        "timestamp": r.said_at.isoformat(), "conversation_id": r.source_ref, "source_id": r.source_record_id,
        "visibility": r.visibility, "elapsed_ms": elapsed_ms,
    }
    if query_id is not None:
        out["query_id"] = query_id
    return out


async def _known_scopes(db: Database, limit: int = 12) -> list[str]:
    """Scope strings that hold memory now (for the message of a search in a scope that does not)."""
    from memory.tables import MemoryRecord

    async with db.session() as session:
        groups = (await session.scalars(select(MemoryRecord.group_key).where(
            MemoryRecord.group_key.is_not(None), MemoryRecord.visibility == "group")
            .distinct().limit(limit))).all()
        owners = (await session.scalars(select(Member.name).where(Member.id.in_(
            select(MemoryRecord.owner_member_id).where(MemoryRecord.visibility == "private").distinct()))
            .limit(limit))).all()
    return [f"group:{g}" for g in groups] + [f"member:{n}" for n in owners] + ["team"]


async def _check_known(db: Database, spec: ScopeSpec, raw: str) -> None:
    """A group nobody ever wrote to is almost always a typo: say so instead of answering nothing."""
    from memory.tables import MemoryRecord

    if spec.group is None or spec.member is not None:
        return
    async with db.session() as session:
        found = (await session.scalars(select(MemoryRecord.id).where(
            MemoryRecord.visibility == "group", MemoryRecord.group_key == spec.group).limit(1))).first()
    if found is None:
        known = ", ".join(await _known_scopes(db))
        raise ScopeError(f"--scope {raw!r}: no memory was ever written there. Scopes are member:<name-or-id>, "
                         f"member:<name-or-id>@group:<channel>:<chat_id>, group:<channel>:<chat_id> or team; "
                         f"these hold memory now: {known}")


async def _search(config: str | None, scope_raw: str, k: int, query: str | None,
                  since: str | None, until: str | None) -> int:
    spec = parse_scope(scope_raw)
    lo, hi = _parse_time(since), _parse_time(until)
    async with _opened(config) as (store, db):
        try:
            scope = await scope_of(db, spec)
        except ScopeError as exc:
            known = ", ".join(await _known_scopes(db))
            raise ScopeError(f"{exc}; these scopes hold memory now: {known}") from exc
        await _check_known(db, spec, scope_raw)

        async def answer(query_id: Any, text: str) -> None:
            started = time.perf_counter()
            found = await store.recall(scope, text, k, since=lo, until=hi)
            elapsed = round((time.perf_counter() - started) * 1000, 2)
            if not found and query_id is not None:
                _emit({"query_id": query_id, "id": None, "text": None, "score": None, "rank": 0,
                       "elapsed_ms": elapsed})
            for rank, r in enumerate(found, start=1):
                _emit(_result(r, rank, query_id, elapsed))

        if query is not None:
            await answer(None, query)
            return 1
        count = 0
        async for number, line in numbered_lines():
            try:
                data = json.loads(line)
                if not isinstance(data, dict) or not isinstance(data.get("query"), str):
                    raise ValueError
            except ValueError:
                sys.stderr.write(f'line {number}: expected {{"query": "...", "id": ...}}; skipped\n')
                sys.stderr.flush()
                continue
            await answer(data.get("id", number), data["query"])
            count += 1
    return count


def ingest(scope: ScopeOption, config: ConfigOption = None,
           extract: Annotated[bool, typer.Option(help="Also save facts found by the extraction rules.")] = True,
           ) -> None:
    """Store JSON lines from stdin: {"speaker", "text", "timestamp", "conversation_id"} (extra keys ignored)."""
    _emit(asyncio.run(_ingest(config, scope, extract)))


def search(scope: ScopeOption, query: Annotated[str | None, typer.Argument(help="Omit to read JSON lines "
                                                                             '{"query", "id"} from stdin.')] = None,
           k: Annotated[int, typer.Option("-k", help="Results per query.")] = 10, config: ConfigOption = None,
           since: Annotated[str | None, typer.Option(help="ISO-8601 lower bound on when it was said.")] = None,
           until: Annotated[str | None, typer.Option(help="ISO-8601 upper bound (exclusive).")] = None) -> None:
    """Search as the scope sees memory; prints one JSON line per result."""
    asyncio.run(_search(config, scope, k, query, since, until))


def list_records(scope: ScopeOption, config: ConfigOption = None,
                 kind: Annotated[list[str] | None, typer.Option(help="Only these kinds.")] = None,
                 limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
                 history: Annotated[bool, typer.Option(help="Include superseded records.")] = False) -> None:
    """List the records a scope can read, newest first (JSON lines)."""
    async def run() -> None:
        async with _opened(config) as (store, db):
            sc = await scope_of(db, parse_scope(scope))
            for row in await store.list_records(sc, kinds=tuple(kind or ()), limit=limit, history=history):
                _emit({"id": row.id, "text": row.text, "kind": row.kind, "visibility": row.visibility,
                       "speaker": row.speaker, "timestamp": row.said_at.isoformat(),
                       "superseded_by": row.superseded_by})
    asyncio.run(run())


def show(record_id: int, scope: ScopeOption, config: ConfigOption = None) -> None:
    """One record with its source and history."""
    async def run() -> None:
        from memory.export import _meta

        async with _opened(config) as (store, db):
            row = await store.get(await scope_of(db, parse_scope(scope)), record_id)
            if row is None:
                raise ScopeError(f"record {record_id} does not exist or is outside {scope}")
            _emit({**_meta(row), "text": row.text, "superseded_by": row.superseded_by,
                   "subject_key": row.subject_key, "vector_state": row.vector_state})
    asyncio.run(run())


def export(directory: Path, config: ConfigOption = None) -> None:
    """Write all memory as editable Markdown files into DIRECTORY."""
    async def run() -> None:
        from memory.export import export_markdown

        async with _opened(config) as (store, db):
            async with db.session() as session:
                names = {m.id: m.name for m in (await session.scalars(select(Member))).all()}
            _emit({"exported": await export_markdown(store, directory, member_names=names), "dir": str(directory)})
    asyncio.run(run())


def import_(directory: Path, config: ConfigOption = None) -> None:
    """Read Markdown files written by `memory export` (edited or not) back into memory."""
    async def run() -> None:
        from memory.export import import_markdown

        async with _opened(config) as (store, _db):
            report = await import_markdown(store, directory)
            _emit({"updated": report.updated, "created": report.created, "unchanged": report.unchanged})
    asyncio.run(run())


def forget(scope: ScopeOption, config: ConfigOption = None,
           record_id: Annotated[int | None, typer.Option("--id", help="The record id.")] = None,
           query: Annotated[str | None, typer.Option(help="Forget records containing this text.")] = None) -> None:
    """Delete records (and their history) from SQLite and the vector store."""
    async def run() -> None:
        async with _opened(config) as (store, db):
            sc = await scope_of(db, parse_scope(scope))
            _emit({"forgotten": await store.forget(sc, record_id=record_id, query=query)})
    asyncio.run(run())


def rebuild(config: ConfigOption = None) -> None:
    """Re-embed every record (after changing memory.embedder, or to heal the vector store)."""
    async def run() -> None:
        async with _opened(config) as (store, _db):
            _emit({"reembedded": await store.rebuild(), "model": store.embedder.model_id if store.embedder else None})
    asyncio.run(run())


def consolidate(config: ConfigOption = None,
                undo: Annotated[str | None, typer.Option(help="Undo this consolidation batch instead.")] = None,
                ) -> None:
    """Merge duplicates, resolve contradictions, promote journal items (or undo a batch)."""
    async def run() -> None:
        async with _opened(config) as (store, _db):
            if undo:
                _emit({"undone": await store.undo(undo), "batch": undo})
                return
            report = await store.consolidate()
            _emit({"batch": report.batch, "merged": report.merged, "resolved": report.resolved,
                   "promoted": report.promoted})
    asyncio.run(run())


def register(app: typer.Typer) -> None:
    memory = typer.Typer(help="Memory: ingest, search, list, show, export, import, forget, rebuild.",
                         no_args_is_help=True)
    memory.command()(ingest)
    memory.command()(search)
    memory.command("list")(list_records)
    memory.command()(show)
    memory.command()(export)
    memory.command("import")(import_)
    memory.command()(forget)
    memory.command()(rebuild)
    memory.command()(consolidate)
    app.add_typer(memory, name="memory")
