"""Consolidation, run on a schedule: merge duplicates, resolve contradictions (same subject, older loses),
promote journal entries to facts by the extraction rules. Every change is logged with the state before it, so
a whole batch can be undone. Nothing is deleted: merged and resolved records stay as superseded history."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from assistant.messages import utcnow
from assistant.sensitivity import Judge
from assistant.storage.db import Database
from memory import records as rec
from memory.extract import extract_facts, subject_key
from memory.journal import JOURNAL_KIND
from memory.scopes import NO_MEMBER, Placement, Visibility, place_key, viewer
from memory.tables import MemoryChange, MemoryRecord
from memory.textproc import normalize

__all__ = ["ConsolidationReport", "consolidate", "undo"]


@dataclass(frozen=True, slots=True)
class ConsolidationReport:
    batch: str
    merged: int
    resolved: int
    promoted: int

    def summary(self) -> str:
        return (f"consolidation {self.batch}: {self.merged} duplicates merged, {self.resolved} contradictions "
                f"resolved, {self.promoted} journal items promoted")


def _place_key(row: MemoryRecord) -> tuple[str, int | None, str | None]:
    if row.visibility == Visibility.PRIVATE.value:
        return (row.visibility, row.owner_member_id, None)
    if row.visibility == Visibility.GROUP.value:
        return (row.visibility, None, row.group_key)
    return (row.visibility, None, None)


def _newest(rows: list[MemoryRecord]) -> MemoryRecord:
    return max(rows, key=lambda r: (r.said_at, r.id))


def _vector_place(row: MemoryRecord) -> tuple[int, str]:
    return row.id, place_key(row.visibility, row.owner_member_id, row.group_key)


async def consolidate(db: Database, judge: Judge, *,
                      fts: bool) -> tuple[ConsolidationReport, list[int], list[tuple[int, str]]]:
    """One pass; returns the report, ids to embed and ids whose vectors to drop (the store syncs chroma)."""
    batch = f"c{utcnow():%Y%m%d%H%M%S}-{uuid.uuid4().hex[:6]}"
    counts = {"merge": 0, "resolve": 0, "promote": 0}
    drop: list[tuple[int, str]] = []
    resync: list[int] = []
    async with db.session() as session:
        active = list((await session.scalars(select(MemoryRecord).where(
            MemoryRecord.superseded_by.is_(None), MemoryRecord.kind != JOURNAL_KIND))).all())

        async def retire(losers: list[MemoryRecord], keeper: MemoryRecord, action: str) -> None:
            for loser in losers:
                session.add(MemoryChange(batch=batch, action=action, record_id=loser.id,
                                         before={"superseded_by": None}, note=f"kept #{keeper.id}"))
                counts[action] += 1
            await rec.supersede(session, losers, keeper.id, fts=fts)
            drop.extend(_vector_place(r) for r in losers)

        by_text: dict[tuple[object, ...], list[MemoryRecord]] = defaultdict(list)
        for row in active:
            by_text[(*_place_key(row), normalize(row.text))].append(row)
        retired: set[int] = set()
        for rows in by_text.values():
            if len(rows) > 1:
                keeper = _newest(rows)
                keeper.confidence = max(r.confidence for r in rows)
                losers = [r for r in rows if r is not keeper]
                await retire(losers, keeper, "merge")
                retired.update(r.id for r in losers)

        by_subject: dict[tuple[object, ...], list[MemoryRecord]] = defaultdict(list)
        for row in active:
            key = row.subject_key or subject_key(row.text)
            if key and row.id not in retired:
                by_subject[(*_place_key(row), key)].append(row)
        for rows in by_subject.values():
            if len(rows) > 1:
                keeper = _newest(rows)
                await retire([r for r in rows if r is not keeper], keeper, "resolve")

        promoted_from = set((await session.scalars(select(MemoryRecord.source_record_id).where(
            MemoryRecord.source_record_id.is_not(None)))).all())
        journal = (await session.scalars(select(MemoryRecord).where(
            MemoryRecord.kind == JOURNAL_KIND, MemoryRecord.superseded_by.is_(None)))).all()
        existing = {(*_place_key(r), normalize(r.text)) for r in active if r.id not in retired}
        for entry in journal:
            if entry.id in promoted_from or not entry.speaker:
                continue
            said = entry.text.split(": ", 1)[1] if ": " in entry.text else entry.text
            said = said.split(" (assistant: ", 1)[0]
            member = entry.speaker_member_id or entry.owner_member_id or NO_MEMBER
            scope = viewer(member, entry.speaker, entry.group_key if entry.visibility == "group" else None)
            for fact in extract_facts(scope, said):
                vis = Visibility(fact.visibility)
                if vis is Visibility.GROUP and not entry.group_key:
                    vis = Visibility.PRIVATE
                if vis is Visibility.PRIVATE and member == NO_MEMBER:
                    continue
                place = Placement(vis, member, entry.group_key)
                probe = MemoryRecord(visibility=vis.value, owner_member_id=member, group_key=entry.group_key)
                if (*_place_key(probe), normalize(fact.text)) in existing:
                    continue
                # Judged in a thread: the detector may embed the text.
                verdict = await asyncio.to_thread(judge.judge, fact.text, local_only=entry.local_only)
                row = await rec.insert_record(session, place, rec.NewRecord(
                    text=fact.text, kind=fact.kind, source_message_id=entry.source_message_id,
                    source_record_id=entry.id, speaker=entry.speaker, speaker_member_id=entry.speaker_member_id,
                    said_at=entry.said_at, confidence=0.6, importance=fact.importance,
                    subject_key=subject_key(fact.text), trusted=entry.trusted,
                ), verdict, local_only=entry.local_only, fts=fts)
                existing.add((*_place_key(row), normalize(fact.text)))
                session.add(MemoryChange(batch=batch, action="promote", record_id=row.id,
                                         note=f"from journal #{entry.id}"))
                counts["promote"] += 1
                resync.append(row.id)
    report = ConsolidationReport(batch, counts["merge"], counts["resolve"], counts["promote"])
    return report, resync, drop


async def undo(db: Database, batch: str, *, fts: bool) -> tuple[int, list[int], list[tuple[int, str]]]:
    """Revert a batch: retired records become active again, promoted ones are deleted."""
    resync: list[int] = []
    drop: list[tuple[int, str]] = []
    async with db.session() as session:
        changes = (await session.scalars(select(MemoryChange).where(
            MemoryChange.batch == batch, MemoryChange.undone.is_(False)).order_by(MemoryChange.id.desc()))).all()
        for change in changes:
            row = await session.get(MemoryRecord, change.record_id)
            change.undone = True
            if row is None:
                continue
            if change.action == "promote":
                drop.append(_vector_place(row))
                await rec.delete_records(session, [row.id], fts=fts)
                continue
            row.superseded_by = change.before.get("superseded_by")
            row.vector_state = "pending"
            row.updated_at = utcnow()
            if fts:
                await rec.index_text(session, [row])
            resync.append(row.id)
    return len(changes), resync, drop
