"""Export memory to Markdown files a person can read and edit, and import them back.

One file per place: ``team.md``, ``group-<channel>-<chat>.md``, ``member-<id>-<name>.md``. Each record is a
``## #<id> <kind>`` section: a one-line HTML comment with its metadata, then its text. Editing the text and
importing updates the record (re-indexed in both stores); a section without metadata is a new record in the
file's place; a deleted section is left alone on import (use ``forget`` to delete). Superseded history is not
exported.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assistant.errors import MemoryError_
from assistant.messages import utcnow
from memory import records as rec
from memory.scopes import Placement, Visibility
from memory.store import MemoryStore
from memory.tables import MemoryRecord
from memory.textproc import normalize

__all__ = ["ImportReport", "export_markdown", "import_markdown"]

_PLACE_RE = re.compile(r"^<!-- place: (\{.*\}) -->$", re.M)
_SECTION_RE = re.compile(r"^## (.*)$", re.M)
_META_RE = re.compile(r"^<!-- memory: (\{.*\}) -->$")
_KINDS = ("fact", "preference", "project", "person", "decision", "journal", "profile", "note")


@dataclass(frozen=True, slots=True)
class ImportReport:
    updated: int
    created: int
    unchanged: int


def _file_name(row: MemoryRecord, names: dict[int, str]) -> str:
    if row.visibility == Visibility.TEAM.value:
        return "team.md"
    if row.visibility == Visibility.GROUP.value:
        return "group-" + re.sub(r"[^\w.-]+", "_", (row.group_key or "unknown").replace(":", "-")) + ".md"
    name = re.sub(r"[^\w.-]+", "_", names.get(row.owner_member_id, "") or "member")
    return f"member-{row.owner_member_id}-{name}.md"


def _meta(row: MemoryRecord) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "visibility": row.visibility, "owner": row.owner_member_id,
        "group": row.group_key, "speaker": row.speaker, "speaker_member": row.speaker_member_id,
        "said_at": row.said_at.isoformat(), "confidence": row.confidence, "importance": row.importance,
        "trusted": row.trusted, "local_only": row.local_only,
        "sensitive_kinds": row.sensitive_kinds, "source_message_id": row.source_message_id,
        "source_ref": row.source_ref, "day": row.day,
    }


async def export_markdown(store: MemoryStore, out_dir: Path, *, member_names: dict[int, str] | None = None) -> int:
    """Write every active record to ``out_dir``; returns the number of records written. Host-level: no scope
    (the operator of the machine sees everything; this is not reachable from chat)."""
    names = member_names or {}
    async with store.db.session() as session:
        rows = (await session.scalars(select(MemoryRecord).where(MemoryRecord.superseded_by.is_(None))
                                      .order_by(MemoryRecord.id))).all()
    files: dict[str, list[str]] = {}
    for row in rows:
        fname = _file_name(row, names)
        if fname not in files:
            place = {"visibility": row.visibility, "owner": row.owner_member_id if row.visibility == "private"
                     else None, "group": row.group_key if row.visibility == "group" else None}
            title = {"team": "team memory", "group": f"group {row.group_key}",
                     "private": f"private to {names.get(row.owner_member_id, 'member')} "
                                f"(member {row.owner_member_id})"}[row.visibility]
            files[fname] = [f"# Memory: {title}", "", f"<!-- place: {json.dumps(place)} -->", ""]
        files[fname] += [f"## #{row.id} {row.kind}", f"<!-- memory: {json.dumps(_meta(row), ensure_ascii=False)} -->",
                         row.text.strip(), ""]
    await asyncio.to_thread(_write_files, out_dir, files)
    return len(rows)


def _write_files(out_dir: Path, files: dict[str, list[str]]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for fname, lines in files.items():
        (out_dir / fname).write_text("\n".join(lines), encoding="utf-8")


def _read_files(in_dir: Path) -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p in sorted(in_dir.glob("*.md"))]


def _sections(text: str) -> list[tuple[str, dict[str, Any] | None, str]]:
    heads = list(_SECTION_RE.finditer(text))
    out: list[tuple[str, dict[str, Any] | None, str]] = []
    for i, head in enumerate(heads):
        body = text[head.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)].strip("\n")
        lines = body.split("\n")
        meta = None
        if lines and _META_RE.match(lines[0].strip()):
            meta = json.loads(_META_RE.match(lines[0].strip()).group(1))  # type: ignore[union-attr]
            lines = lines[1:]
        out.append((head.group(1).strip(), meta, "\n".join(lines).strip()))
    return out


def _placement(meta: dict[str, Any], path: Path) -> Placement:
    try:
        vis = Visibility(meta["visibility"])
        owner = int(meta.get("owner") or 0)
    except (KeyError, ValueError, TypeError) as exc:
        raise MemoryError_(f"{path.name}: a section's metadata has no valid visibility/owner") from exc
    if vis is Visibility.PRIVATE and not owner:
        raise MemoryError_(f"{path.name}: private memory needs an owner member id")
    if vis is Visibility.GROUP and not meta.get("group"):
        raise MemoryError_(f"{path.name}: group memory needs a group key like telegram:-100123")
    return Placement(vis, owner, meta.get("group"))


async def import_markdown(store: MemoryStore, in_dir: Path) -> ImportReport:
    """Read the files ``export_markdown`` wrote (possibly edited) back into the store."""
    files = await asyncio.to_thread(_read_files, in_dir)
    if not files:
        raise MemoryError_(f"{in_dir}: no .md files to import")
    updated = created = unchanged = 0
    touched: list[int] = []
    async with store.db.session() as session:
        for path, text in files:
            place_m = _PLACE_RE.search(text)
            file_place = json.loads(place_m.group(1)) if place_m else None
            for head, meta, body in _sections(text):
                if not body:
                    continue
                kind_word = head.split()[-1] if head.split() else "fact"
                kind = kind_word if kind_word in _KINDS else "fact"
                row = await session.get(MemoryRecord, int(meta["id"])) if meta and "id" in meta else None
                place = _placement(meta or file_place or {}, path)
                if row is not None and row.visibility == place.visibility.value and \
                        row.owner_member_id == place.owner_member_id and row.group_key == place.group_key:
                    if normalize(row.text) == normalize(body) and row.kind == kind:
                        unchanged += 1
                        continue
                    # New words, a new verdict (judged in a thread: the detector may embed the text).
                    verdict = await asyncio.to_thread(store.judge.judge, body, local_only=row.local_only)
                    row.text, row.kind, row.vector_state, row.updated_at = body, kind, "pending", utcnow()
                    row.private, row.sensitive_kinds, row.detector_version = (
                        verdict.private, verdict.kinds_text, verdict.version)
                    if row.superseded_by is None and store.fts:
                        await rec.index_text(session, [row])
                    touched.append(row.id)
                    updated += 1
                    continue
                meta = meta or {}
                said = meta.get("said_at")
                local_only = bool(meta.get("local_only", False))
                verdict = await asyncio.to_thread(store.judge.judge, body, local_only=local_only)
                new = await rec.insert_record(session, place, rec.NewRecord(
                    text=body, kind=str(meta.get("kind", kind)), speaker=str(meta.get("speaker") or ""),
                    speaker_member_id=meta.get("speaker_member"),
                    said_at=datetime.fromisoformat(said) if said else None, day=str(meta.get("day") or ""),
                    trusted=bool(meta.get("trusted", True)), confidence=float(meta.get("confidence", 0.8)),
                    importance=float(meta.get("importance", 0.5)), source_ref=str(meta.get("source_ref") or ""),
                    source_message_id=meta.get("source_message_id"),
                ), verdict, local_only=local_only, fts=store.fts)
                touched.append(new.id)
                created += 1
    await store.sync_vectors(touched)
    return ImportReport(updated, created, unchanged)
