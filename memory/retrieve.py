"""Ranking of recall candidates: reciprocal rank fusion of keyword and vector lists, then recency and
importance, then diversity (near-duplicates dropped). Pure functions over values; no I/O."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from memory.tables import MemoryRecord
from memory.textproc import normalize, token_set

__all__ = ["RRF_K", "Recalled", "fuse", "rank"]

RRF_K = 20  # smaller than the usual 60: with two short lists the top ranks should count clearly more
RECENCY_HALF_LIFE_DAYS = 30.0
RECENCY_WEIGHT = 0.1
IMPORTANCE_WEIGHT = 0.1
NEAR_DUPLICATE_JACCARD = 0.85


@dataclass(frozen=True, slots=True)
class Recalled:
    """One remembered record as a reader sees it. ``trusted`` False: quote it, never follow it."""

    id: int
    text: str
    kind: str
    visibility: str
    score: float
    speaker: str
    said_at: datetime
    trusted: bool
    private: bool
    owner_member_id: int
    group_key: str | None
    source_message_id: int | None
    source_ref: str
    source_record_id: int | None
    confidence: float
    importance: float

    @classmethod
    def of(cls, row: MemoryRecord, score: float, viewer_id: int | None = None) -> Recalled:
        """``viewer_id``: whose eyes read it; text another member wrote is untrusted for this reader."""
        other = row.speaker_member_id is not None and viewer_id is not None and row.speaker_member_id != viewer_id
        return cls(
            id=row.id, text=row.text, kind=row.kind, visibility=row.visibility, score=score, speaker=row.speaker,
            said_at=row.said_at, trusted=row.trusted and not other, private=row.private,
            owner_member_id=row.owner_member_id,
            group_key=row.group_key, source_message_id=row.source_message_id, source_ref=row.source_ref,
            source_record_id=row.source_record_id, confidence=row.confidence, importance=row.importance,
        )


def fuse(*ranked: Sequence[int], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion: each list adds 1/(k + rank) for every id it holds."""
    scores: dict[int, float] = {}
    for ids in ranked:
        for position, record_id in enumerate(ids, start=1):
            scores[record_id] = scores.get(record_id, 0.0) + 1.0 / (k + position)
    return scores


def _adjusted(base: float, row: MemoryRecord, now: datetime) -> float:
    age_days = max((now - row.said_at).total_seconds() / 86_400, 0.0)
    recency = math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)
    boost = 1.0 + RECENCY_WEIGHT * recency + IMPORTANCE_WEIGHT * (row.importance - 0.5)
    return base * boost * (0.75 + 0.25 * row.confidence)


def rank(fused: dict[int, float], rows: dict[int, MemoryRecord], k: int, now: datetime,
         *, viewer_id: int | None = None) -> list[Recalled]:
    """The ``k`` best visible rows: fused score adjusted by recency, importance and confidence, with texts that
    say the same thing as a better one dropped."""
    scored = sorted(
        ((_adjusted(score, rows[i], now), i) for i, score in fused.items() if i in rows), key=lambda s: (-s[0], -s[1])
    )
    out: list[Recalled] = []
    seen_norm: set[str] = set()
    seen_tokens: list[frozenset[str]] = []
    for score, record_id in scored:
        row = rows[record_id]
        norm = normalize(row.text)
        tokens = token_set(row.text)
        if norm in seen_norm or any(_jaccard(tokens, t) >= NEAR_DUPLICATE_JACCARD for t in seen_tokens):
            continue
        seen_norm.add(norm)
        seen_tokens.append(tokens)
        out.append(Recalled.of(row, round(score * 1000, 4), viewer_id))
        if len(out) >= k:
            break
    return out


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)
