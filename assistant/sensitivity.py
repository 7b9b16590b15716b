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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select, update

from assistant.privacy import DETECTOR_VERSION, PrivacyDetector, detector_version
from assistant.storage.db import Database

if TYPE_CHECKING:
    from assistant.config import RoutingConfig

__all__ = ["RESCAN_BATCH", "Judge", "Verdict", "rescan", "rescan_all"]

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


class Judge:
    """Verdicts at one setting of the detector: the router's (``routing.privacy_threshold``,
    ``routing.privacy_embeddings``), so a stored verdict says what the router would find in the text, and a verdict
    stored under other settings carries another version and is judged again (``rescan``).

    Blocking (the detector may embed a text): callers on the event loop run it in a thread. The detectors load on
    first use."""

    def __init__(self, threshold: float | None = None, *, embeddings: bool = True) -> None:
        self._threshold = threshold
        self._embeddings = embeddings
        self.version = detector_version(threshold, embeddings=embeddings)
        # Bulk writes (an ingest of thousands of lines) are judged without the sentence-vector stage, which would
        # cost more than the embedding for search; their verdicts carry this version, judged again by ``rescan``.
        self.quick_version = detector_version(threshold, embeddings=False)
        self._detectors: dict[bool, PrivacyDetector] = {}

    @classmethod
    def for_routing(cls, routing: RoutingConfig) -> Judge:
        return cls(routing.privacy_threshold, embeddings=routing.privacy_embeddings)

    def detector(self, *, quick: bool = False) -> PrivacyDetector:
        """The detector at these settings (``quick``: without the sentence-vector stage), with its cache: the
        router scans requests with it, so a text it read is judged from the cache when it is stored."""
        quick = quick or not self._embeddings
        detector = self._detectors.get(quick)
        if detector is None:  # two threads may both build one: the same detector, one kept
            detector = self._detectors.setdefault(quick, PrivacyDetector(self._threshold, embeddings=not quick))
        return detector

    def judge(self, text: str, *, local_only: bool = False, quick: bool = False) -> Verdict:
        """The verdict of ``text``; ``local_only``: it was said where configuration keeps everything local."""
        detector = self.detector(quick=quick)
        kinds = tuple(dict.fromkeys(f.kind for f in detector.scan(text)))
        return Verdict(private=local_only or bool(kinds), kinds=kinds, version=detector.version)

    def judge_all(self, texts: Sequence[str], *, local_only: bool, quick: bool = False) -> list[Verdict]:
        """The verdict of each text, a repeated text judged once (a verdict depends on the text and ``local_only``
        only)."""
        seen: dict[str, Verdict] = {}
        out = []
        for text_ in texts:
            verdict = seen.get(text_)
            if verdict is None:
                verdict = seen[text_] = self.judge(text_, local_only=local_only, quick=quick)
            out.append(verdict)
        return out


def _judge_rows(judge: Judge, rows: Sequence[Any]) -> list[Verdict]:
    return [judge.judge(r[1] or "", local_only=bool(r[2])) for r in rows]


async def rescan(db: Database, model: type[Any], judge: Judge, *, batch: int = RESCAN_BATCH) -> int:
    """Judge again every row of ``model`` (a table with ``private``, ``sensitive_kinds``, ``detector_version``
    and a text column) whose verdict came from another detector version or other settings than ``judge``'s;
    returns how many rows were judged.

    Batches of ``batch`` rows, the scanning off the event loop. A memory record keeps ``local_only``; a transcript
    entry from a tool keeps a private flag it already had (a tool that read the member's private files said so
    itself)."""
    text_col = model.text if hasattr(model, "text") else model.content
    local_col = model.local_only if hasattr(model, "local_only") else and_(model.role == "tool", model.private)
    total = 0
    while True:
        async with db.session() as s:
            rows = (await s.execute(select(model.id, text_col, local_col)
                                    .where(model.detector_version != judge.version).limit(batch))).all()
        if not rows:
            return total
        verdicts = await asyncio.to_thread(_judge_rows, judge, rows)
        async with db.session() as s:
            for row, v in zip(rows, verdicts, strict=True):
                await s.execute(update(model).where(model.id == row[0]).values(
                    private=v.private, sensitive_kinds=v.kinds_text, detector_version=v.version))
        total += len(rows)
        log.info("sensitivity: %d rows of %s judged by detector %s", total, model.__tablename__, judge.version)


async def rescan_all(db: Database, judge: Judge) -> int:
    """``rescan`` over memory records and transcript entries; a failure is logged, never raised (the daemon runs
    it in the background; a row not judged again keeps its old verdict, and the router still reads a recalled
    line itself)."""
    from assistant.storage.tables import TranscriptEntry
    from memory.tables import MemoryRecord  # loaded here: the memory tables sit beside the core's, not below it

    try:
        return await rescan(db, MemoryRecord, judge) + await rescan(db, TranscriptEntry, judge)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("sensitivity: judging older rows again failed; they keep their old verdicts")
        return 0
