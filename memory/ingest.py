"""Bulk ingest of chat history (``teamclaw memory ingest``): JSON lines in, one ``note`` record per message out.

Lines are written in batches, one transaction (one multi-row INSERT) each, searchable by keyword at once; their
vectors are embedded while the next batch is parsed and written: each batch starts a vector flush at once
(``MemoryStore.flush_vectors``), flushes run one after another, and ``ingest`` returns only when every vector is
stored. A text repeated during the ingest is embedded once (``MemoryStore.bulk_ingest``). The extraction rules
run per batch on the text already in hand (regular expressions, no model) and their facts take the same path.

Where the time goes (2 cores, short chat lines): the embedding is ~90 % of it; the rest (parsing, sensitivity
verdicts, the INSERTs, the keyword index, extraction, chroma) is ~1 ms a line.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from assistant.messages import MemberScope
from memory.extract import extract_facts, subject_key
from memory.records import NewRecord
from memory.scopes import viewer

if TYPE_CHECKING:
    from memory.store import MemoryStore

__all__ = ["INGEST_BATCH", "ChatLine", "IngestCounts", "LineError", "ingest", "parse_line", "parse_time",
           "stored_text"]

INGEST_BATCH = 512
# The first batch is small so the model starts at once instead of after 512 lines are parsed, judged and written
# (~0.1 s of an idle model per ingest call).
FIRST_BATCH = 32


class LineError(ValueError):
    """An ingest line that cannot be stored; the message says why (shown as ``line N: <why>``)."""


@dataclass(frozen=True, slots=True)
class ChatLine:
    """One message of chat history: who said what, when, and the caller's reference for it."""

    speaker: str
    text: str
    when: datetime | None
    ref: str


@dataclass(slots=True)
class IngestCounts:
    ingested: int = 0
    facts: int = 0
    skipped: int = 0


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 text (no zone = UTC) or epoch seconds; None for an absent value."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError("timestamp must be ISO-8601 text or epoch seconds")


def parse_line(line: str) -> ChatLine:
    """One ingest line (see docs/memory.md); raises ``LineError`` saying what is wrong with it."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise LineError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise LineError("expected a JSON object")
    text, speaker = data.get("text"), data.get("speaker")
    if not isinstance(text, str) or not text.strip():
        raise LineError('"text" must be a non-empty string')
    if not isinstance(speaker, str) or not speaker.strip():
        raise LineError('"speaker" must be a non-empty string')
    try:
        when = parse_time(data.get("timestamp"))
    except (ValueError, TypeError, OverflowError, OSError) as exc:
        raise LineError('"timestamp" must be ISO-8601 (e.g. 2025-06-10T09:30:00Z) or epoch seconds') from exc
    ext, conv = data.get("id"), data.get("conversation_id")
    ref = str(ext) if ext is not None else "" if conv is None else str(conv)
    return ChatLine(speaker.strip(), text.strip(), when, ref)


def stored_text(speaker: str, text: str) -> str:
    """The record's text: ``"<speaker>: <text>"`` (dense retrieval over chat history needs the name), without
    saying the name twice when the text already starts with it ("Alice: hi" stays "Alice: hi")."""
    head = re.match(re.escape(speaker) + r"\s*[:：]\s*", text, flags=re.IGNORECASE)
    if head is not None:
        return f"{speaker}: {text[head.end():]}" if text[head.end():] else text
    return f"{speaker}: {text}"


async def ingest(store: MemoryStore, scope: MemberScope, visibility: str, lines: AsyncIterator[ChatLine],
                 speaker_id: Callable[[str], Awaitable[int]], *, extract: bool = True,
                 batch_size: int = INGEST_BATCH) -> IngestCounts:
    """Store ``lines`` in ``scope``'s place of ``visibility``; returns once every record has its vector.

    ``speaker_id`` maps a speaker name to a member id (creating the member if needed). A message from anyone but
    the scope's member is untrusted for that member (a member scope); in a group or team every line is trusted.
    """
    counts = IngestCounts()
    ids_by_name: dict[str, int] = {}
    batch: list[ChatLine] = []
    # Vector flushes started so far; each embeds what was deferred before it ran (an idle one returns 0).
    flushes: list[asyncio.Task[int]] = []

    async def flush() -> None:
        for line in batch:
            if line.speaker not in ids_by_name:
                ids_by_name[line.speaker] = await speaker_id(line.speaker)
        items = [NewRecord(
            text=stored_text(line.speaker, line.text), kind="note", speaker=line.speaker,
            speaker_member_id=ids_by_name[line.speaker], said_at=line.when, source_ref=line.ref,
            trusted=visibility != "private" or ids_by_name[line.speaker] == scope.member_id,
            day=line.when.date().isoformat() if line.when else "",
        ) for line in batch]
        ids = await store.remember_many(scope, items, visibility=visibility, defer_vectors=True)
        counts.ingested += len(ids)
        if extract:
            facts = []
            for line, item, turn_id in zip(batch, items, ids, strict=True):
                said_by = viewer(ids_by_name[line.speaker], line.speaker)
                for fact in extract_facts(said_by, line.text):
                    facts.append(NewRecord(
                        text=fact.text, kind=fact.kind, speaker=item.speaker,
                        speaker_member_id=item.speaker_member_id, said_at=item.said_at, source_ref=item.source_ref,
                        source_record_id=turn_id, trusted=item.trusted, importance=fact.importance,
                        subject_key=subject_key(fact.text), day=item.day,
                    ))
            counts.facts += len(await store.remember_many(scope, facts, visibility=visibility, defer_vectors=True))
        batch.clear()
        # Embedding starts now, not after the background writer's pause: the model works while the next batch
        # is parsed and written. A flush still waiting for its turn will take this batch as well.
        for done in [f for f in flushes if f.done()]:
            flushes.remove(done)
            done.result()  # a flush that failed stops the ingest here, with its error
        if len(flushes) < 2:  # one embedding, one waiting its turn (it takes everything deferred until then)
            flushes.append(asyncio.create_task(store.flush_vectors(), name="ingest-vectors"))

    with store.bulk_ingest():
        try:
            limit = min(batch_size, FIRST_BATCH)
            async for line in lines:
                batch.append(line)
                if len(batch) >= limit:
                    await flush()
                    limit = batch_size
            if batch:
                await flush()
            await asyncio.gather(*flushes)
            await store.flush_vectors()
        finally:
            for task in flushes:
                task.cancel()
            await asyncio.gather(*flushes, return_exceptions=True)
    return counts
