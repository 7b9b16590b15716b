"""Sensitivity verdicts: what must not leave this machine, decided when a record or transcript entry is written.

Two notions, never mixed: *visibility* says who may read a record (private to its member, a group, the team) and
is enforced in storage; *sensitivity* says whether a model request carrying it must stay on local models. A
verdict is the privacy detector's kinds found in the text, plus "written where configuration keeps everything
local" (a member or chat marked private). It is stored beside the text with the detector's version, and
``rescan`` computes it again for rows an older detector judged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select, update

from assistant.privacy import DETECTOR_VERSION, QUICK_DETECTOR_VERSION, Finding, scan, scan_quick
from assistant.storage.db import Database

__all__ = ["RESCAN_BATCH", "Verdict", "judge", "judge_quick", "rescan", "rescan_all"]

log = logging.getLogger(__name__)

RESCAN_BATCH = 500


@dataclass(frozen=True, slots=True)
class Verdict:
    """``private``: a request carrying this text must stay local. ``kinds``: what the detector found."""

    private: bool
    kinds: tuple[str, ...]
    version: str = DETECTOR_VERSION

    @property
    def kinds_text(self) -> str:
        return ",".join(self.kinds)[:200]


def judge(text: str, *, local_only: bool = False, detect: Callable[[str], tuple[Finding, ...]] = scan,
          version: str = DETECTOR_VERSION) -> Verdict:
    kinds = tuple(dict.fromkeys(f.kind for f in detect(text)))
    return Verdict(private=local_only or bool(kinds), kinds=kinds, version=version)


def judge_quick(text: str, *, local_only: bool = False) -> Verdict:
    """``judge`` without the detector's sentence-vector stage, for bulk writes (an ingest of thousands of lines,
    where that stage would cost more than the embedding for search): the verdict carries
    ``QUICK_DETECTOR_VERSION``, so ``rescan`` judges it again with the whole detector when the daemon runs."""
    return judge(text, local_only=local_only, detect=scan_quick, version=QUICK_DETECTOR_VERSION)


def _judge_rows(rows: Sequence[Any]) -> list[Verdict]:
    return [judge(r[1] or "", local_only=bool(r[2])) for r in rows]


async def rescan(db: Database, model: type[Any], *, batch: int = RESCAN_BATCH) -> int:
    """Judge again every row of ``model`` (a table with ``private``, ``sensitive_kinds``, ``detector_version``
    and a text column) whose verdict came from another detector version; returns how many rows were judged.

    Batches of ``batch`` rows, the scanning off the event loop. A memory record keeps ``local_only``; a transcript
    entry from a tool keeps a private flag it already had (a tool that read the member's private files said so
    itself)."""
    text_col = model.text if hasattr(model, "text") else model.content
    local_col = model.local_only if hasattr(model, "local_only") else and_(model.role == "tool", model.private)
    total = 0
    while True:
        async with db.session() as s:
            rows = (await s.execute(select(model.id, text_col, local_col)
                                    .where(model.detector_version != DETECTOR_VERSION).limit(batch))).all()
        if not rows:
            return total
        verdicts = await asyncio.to_thread(_judge_rows, rows)
        async with db.session() as s:
            for row, v in zip(rows, verdicts, strict=True):
                await s.execute(update(model).where(model.id == row[0]).values(
                    private=v.private, sensitive_kinds=v.kinds_text, detector_version=v.version))
        total += len(rows)
        log.info("sensitivity: %d rows of %s judged by detector %s", total, model.__tablename__, DETECTOR_VERSION)


async def rescan_all(db: Database) -> int:
    """``rescan`` over memory records and transcript entries; a failure is logged, never raised (the daemon runs
    it in the background, and stale verdicts only keep more work local)."""
    from assistant.storage.tables import TranscriptEntry
    from memory.tables import MemoryRecord  # loaded here: the memory tables sit beside the core's, not below it

    try:
        return await rescan(db, MemoryRecord) + await rescan(db, TranscriptEntry)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("sensitivity: judging older rows again failed; they keep their old verdicts")
        return 0
