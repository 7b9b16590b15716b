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
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import func, select

from assistant.config import load_config
from assistant.errors import ScopeError
from assistant.messages import ChatKind, MemberScope
from assistant.storage.db import Database
from assistant.storage.tables import Identity, Member

__all__ = ["ScopeSpec", "parse_scope", "register"]

ConfigOption = Annotated[str | None, typer.Option("--config", "-c", help="Path to teamclaw.toml.",
                                                  envvar="TEAMCLAW_CONFIG")]
ScopeOption = Annotated[str, typer.Option("--scope", "-s", help="member:<name-or-id>[@group:<channel>:<chat_id>], "
                                                             "group:<channel>:<chat_id> or team")]
INGEST_BATCH = 512
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


async def _member(db: Database, ref: str, *, create: bool) -> tuple[int, str]:
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


async def _scope(db: Database, spec: ScopeSpec, *, create: bool = False) -> MemberScope:
    member_id, name = (0, "team") if spec.member is None else await _member(db, spec.member, create=create)
    if spec.group:
        channel, _, chat = spec.group.partition(":")
        return MemberScope(member_id, name, channel, chat, ChatKind.GROUP, is_admin=True)
    return MemberScope(member_id, name, CLI_CHANNEL, "team" if spec.team else f"member-{member_id}",
                       ChatKind.DIRECT, is_admin=True)


@asynccontextmanager
async def _opened(config: str | None) -> AsyncIterator[tuple[Any, Database]]:
    from memory.store import MemoryStore

    cfg = load_config(config)
    db = Database(cfg.database_url)
    try:
        await db.migrate()
        store = await MemoryStore.open(cfg.memory, db, cfg.data_dir, chroma_url=cfg.storage.chroma_url)
        try:
            yield store, db
        finally:
            await store.aclose()
    finally:
        await db.aclose()


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _parse_time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError("timestamp must be ISO-8601 text or epoch seconds")


def _parse_line(number: int, line: str) -> dict[str, Any] | None:
    """One ingest line as a dict, or None after telling stderr why it is skipped."""
    def bad(why: str) -> None:
        sys.stderr.write(f"line {number}: {why}; line skipped, nothing written for it\n")

    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        bad(f"not valid JSON ({exc.msg} at column {exc.colno})")
        return None
    if not isinstance(data, dict):
        bad("expected a JSON object")
        return None
    text, speaker = data.get("text"), data.get("speaker")
    if not isinstance(text, str) or not text.strip():
        bad('"text" must be a non-empty string')
        return None
    if not isinstance(speaker, str) or not speaker.strip():
        bad('"speaker" must be a non-empty string')
        return None
    try:
        when = _parse_time(data.get("timestamp"))
    except (ValueError, TypeError, OverflowError, OSError):
        bad('"timestamp" must be ISO-8601 (e.g. 2025-06-10T09:30:00Z) or epoch seconds')
        return None
    conv = data.get("conversation_id")
    ext = data.get("id")
    return {"text": text.strip(), "speaker": speaker.strip(), "when": when,
            "conversation_id": "" if conv is None else str(conv), "id": "" if ext is None else str(ext)}


async def _ingest(config: str | None, scope_raw: str, extract: bool) -> dict[str, Any]:
    from memory.extract import extract_facts, subject_key
    from memory.records import NewRecord
    from memory.scopes import viewer

    spec = parse_scope(scope_raw)
    if spec.member is not None and spec.group is not None:
        raise ScopeError("ingest writes to one place: use member:<name>, group:<channel>:<chat_id> or team")
    started = time.perf_counter()
    counts = {"ingested": 0, "facts": 0, "skipped": 0, "members_created": 0}
    async with _opened(config) as (store, db):
        async with db.session() as session:
            members_before = int((await session.execute(select(func.count(Member.id)))).scalar_one())
        scope = await _scope(db, spec, create=True)
        speakers: dict[str, int] = {}
        batch: list[dict[str, Any]] = []

        async def flush() -> None:
            for row in batch:
                if row["speaker"] not in speakers:
                    speakers[row["speaker"]] = (await _member(db, row["speaker"], create=True))[0]
            items = [NewRecord(
                text=f"{r['speaker']}: {r['text']}", kind="note", speaker=r["speaker"],
                speaker_member_id=speakers[r["speaker"]], said_at=r["when"],
                source_ref=r["id"] or r["conversation_id"],
                trusted=spec.member is None or speakers[r["speaker"]] == scope.member_id,
                day=r["when"].date().isoformat() if r["when"] else "",
            ) for r in batch]
            ids = await store.remember_many(scope, items, visibility=spec.visibility)
            counts["ingested"] += len(ids)
            if extract:
                facts = []
                for r, item, turn_id in zip(batch, items, ids, strict=True):
                    said_by = viewer(speakers[r["speaker"]], r["speaker"])
                    for fact in extract_facts(said_by, r["text"]):
                        facts.append(NewRecord(
                            text=fact.text, kind=fact.kind, speaker=item.speaker,
                            speaker_member_id=item.speaker_member_id, said_at=item.said_at,
                            source_ref=item.source_ref, source_record_id=turn_id, trusted=item.trusted,
                            importance=fact.importance, subject_key=subject_key(fact.text), day=item.day,
                        ))
                counts["facts"] += len(await store.remember_many(scope, facts, visibility=spec.visibility))
            batch.clear()

        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            parsed = _parse_line(number, line)
            if parsed is None:
                counts["skipped"] += 1
                continue
            batch.append(parsed)
            if len(batch) >= INGEST_BATCH:
                await flush()
        if batch:
            await flush()
        async with db.session() as session:
            members_after = int((await session.execute(select(func.count(Member.id)))).scalar_one())
        counts["members_created"] = members_after - members_before
    seconds = time.perf_counter() - started
    return {**counts, "scope": scope_raw, "seconds": round(seconds, 3),
            "lines_per_s": round(counts["ingested"] / seconds, 1) if seconds else 0.0}


def _result(r: Any, rank: int, query_id: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id, "text": r.text, "score": r.score, "rank": rank, "kind": r.kind, "speaker": r.speaker,
        "timestamp": r.said_at.isoformat(), "conversation_id": r.source_ref, "source_id": r.source_record_id,
        "visibility": r.visibility,
    }
    if query_id is not None:
        out["query_id"] = query_id
    return out


async def _search(config: str | None, scope_raw: str, k: int, query: str | None,
                  since: str | None, until: str | None) -> int:
    spec = parse_scope(scope_raw)
    async with _opened(config) as (store, db):
        scope = await _scope(db, spec)
        queries: list[tuple[Any, str]] = []
        if query is not None:
            queries.append((None, query))
        else:
            for number, line in enumerate(sys.stdin, start=1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    if not isinstance(data, dict) or not isinstance(data.get("query"), str):
                        raise ValueError
                except ValueError:
                    sys.stderr.write(f'line {number}: expected {{"query": "...", "id": ...}}; skipped\n')
                    continue
                queries.append((data.get("id", number), data["query"]))
        lo, hi = _parse_time(since), _parse_time(until)
        for query_id, text in queries:
            found = await store.recall(scope, text, k, since=lo, until=hi)
            if not found and query_id is not None:
                _emit({"query_id": query_id, "id": None, "text": None, "score": None, "rank": 0})
            for rank, r in enumerate(found, start=1):
                _emit(_result(r, rank, query_id))
    return len(queries)


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
            sc = await _scope(db, parse_scope(scope))
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
            row = await store.get(await _scope(db, parse_scope(scope)), record_id)
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
            sc = await _scope(db, parse_scope(scope))
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
