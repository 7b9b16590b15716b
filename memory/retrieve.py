"""Ranking of recall candidates: reciprocal rank fusion of keyword and vector lists, then recency and
importance, then diversity (near-duplicates dropped). Pure functions over values; no I/O."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from memory.tables import MemoryRecord
from memory.textproc import cjk_count, has_cjk, normalize, token_set

__all__ = ["RRF_K", "Focus", "Recalled", "focus_of", "fuse", "rank", "weigh", "without_words"]

RRF_K = 20  # smaller than the usual 60: with two short lists the top ranks should count clearly more
RECENCY_HALF_LIFE_DAYS = 30.0
RECENCY_WEIGHT = 0.1
IMPORTANCE_WEIGHT = 0.1
NEAR_DUPLICATE_JACCARD = 0.85
# A question that names a person is mostly about what that person said: their own lines count more, lines that
# address or mention them a little more. A question that names a date or month favours lines said then or soon
# after (people tell of a trip or an event days later: "I got back from Lisbon last weekend").
SPEAKER_BOOST = 0.5
MENTION_BOOST = 0.15
PERIOD_BOOST = 0.5
PERIOD_REPORTED_WITHIN = timedelta(days=14)
# Chat is full of lines that say almost nothing ("Congrats!", "How was your week, Maya?"). They are short, so
# bm25 and e5 both rate them close to any short question; a line with few content words counts less.
CONTENT_WORDS_FULL = 5
CONTENT_FLOOR = 0.3


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


@dataclass(frozen=True, slots=True)
class Focus:
    """What a question is about beyond its words: people it names (lower-case speaker names) and a calendar
    period it names."""

    people: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None


def focus_of(query: str, speakers: set[str], since: datetime | None = None,
             until: datetime | None = None) -> Focus:
    """The speakers among ``speakers`` that ``query`` names ("Maya", "Maya's"), and the period it names."""
    words = {w.removesuffix("'s").removesuffix("’s") for w in re.findall(r"[^\W\d_][\w'’-]*", query.lower())}
    return Focus(frozenset(s.lower() for s in speakers if s and s.lower() in words), since, until)


def without_words(query: str, words: frozenset[str]) -> str:
    """``query`` with the given (lower-case) words and their possessives taken out."""
    pattern = r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")(?:['’]s)?\b"
    return re.sub(pattern, " ", query, flags=re.IGNORECASE)


def fuse(*ranked: Sequence[int], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion: each list adds 1/(k + rank) for every id it holds."""
    scores: dict[int, float] = {}
    for ids in ranked:
        for position, record_id in enumerate(ids, start=1):
            scores[record_id] = scores.get(record_id, 0.0) + 1.0 / (k + position)
    return scores


def _weight(row: MemoryRecord, now: datetime, focus: Focus) -> tuple[float, float]:
    """What multiplies a row's fused score, in two factors: recency, importance, focus and content; confidence."""
    said_at = row.said_at if row.said_at.tzinfo else row.said_at.replace(tzinfo=now.tzinfo)
    age_days = max((now - said_at).total_seconds() / 86_400, 0.0)
    recency = math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)
    boost = 1.0 + RECENCY_WEIGHT * recency + IMPORTANCE_WEIGHT * (row.importance - 0.5)
    if focus.people:
        if row.speaker.lower() in focus.people:
            boost += SPEAKER_BOOST
        elif any(p in row.text.lower() for p in focus.people):
            boost += MENTION_BOOST
    boost *= CONTENT_FLOOR + (1 - CONTENT_FLOOR) * min(1.0, _content_words(row) / CONTENT_WORDS_FULL)
    if focus.since is not None and focus.until is not None and \
            focus.since <= said_at < focus.until + PERIOD_REPORTED_WITHIN:
        boost += PERIOD_BOOST
    return boost, 0.75 + 0.25 * row.confidence


def _content_words(row: MemoryRecord) -> float:
    """Words that carry content, besides the speaker's name; a Chinese word counted as 1.5 characters (the
    keyword index's CJK bigrams would count every character once)."""
    cjk = cjk_count(row.text)
    words = token_set(row.text) - {row.speaker.lower()}
    if cjk:
        words = frozenset(t for t in words if not has_cjk(t))
    return len(words) + cjk / 1.5


def weigh(rows: dict[int, MemoryRecord], now: datetime, focus: Focus,
          weights: dict[int, tuple[float, float]]) -> None:
    """Fill ``weights`` (as ``rank`` reads them) for ``rows`` ahead of ranking, e.g. while the question is embedded."""
    for i, row in rows.items():
        if i not in weights:
            weights[i] = _weight(row, now, focus)


def rank(fused: dict[int, float], rows: dict[int, MemoryRecord], k: int, now: datetime,
         *, viewer_id: int | None = None, focus: Focus | None = None,
         weights: dict[int, tuple[float, float]] | None = None) -> list[Recalled]:
    """The ``k`` best visible rows: fused score adjusted by recency, importance, confidence and the question's
    ``focus``, with texts that say the same thing as a better one dropped. ``weights`` keeps each row's factors
    between calls of one search with the same ``now`` and ``focus`` (they cost more than the rest of ranking)."""
    focus = focus or Focus()
    known = {} if weights is None else weights
    scored: list[tuple[float, int]] = []
    for i, score in fused.items():
        row = rows.get(i)
        if row is None:
            continue
        factors = known.get(i)
        if factors is None:
            factors = known[i] = _weight(row, now, focus)
        scored.append((score * factors[0] * factors[1], i))
    scored.sort(key=lambda s: (-s[0], -s[1]))
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
