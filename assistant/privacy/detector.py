"""The deterministic privacy detector: runs every pattern over a text and merges overlapping findings.

A scan is pure and costs well under a millisecond for a chat message; the same system prompt and transcript reach
the router again on every step of a turn, so results are kept in a small bounded cache keyed by the text.
"""

from __future__ import annotations

from collections import OrderedDict

from assistant.privacy.finding import Finding
from assistant.privacy.identifiers import IDENTIFIER_DETECTORS
from assistant.privacy.topics import TOPIC_DETECTORS

__all__ = ["DEFAULT_CACHE_SIZE", "DETECTOR_VERSION", "MIN_CONFIDENCE", "PrivacyDetector", "scan"]

DEFAULT_CACHE_SIZE = 2048
# Names the detectors and their data: stored beside every sensitivity verdict, so verdicts of an older detector are
# recomputed (memory.sensitivity.rescan). Change it whenever a pattern, a threshold or learned weights change.
DETECTOR_VERSION = "rules-2"
# Everything the detectors report clears this bar; it exists so a future weak detector can report low scores
# (useful in the benchmark) without them making calls private.
MIN_CONFIDENCE = 0.5

_DETECTORS = IDENTIFIER_DETECTORS + TOPIC_DETECTORS


def _merge(findings: list[Finding]) -> tuple[Finding, ...]:
    """Keep one finding per overlapping region: the most confident, then the longest."""
    ordered = sorted(findings, key=lambda f: (-f.confidence, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for f in ordered:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return tuple(sorted(kept, key=lambda f: f.start))


def scan(text: str) -> tuple[Finding, ...]:
    """Every piece of personal data in ``text`` at or above ``MIN_CONFIDENCE``, in text order, without overlaps."""
    if not text or text.isspace():
        return ()
    found = [f for detect in _DETECTORS for f in detect(text) if f.confidence >= MIN_CONFIDENCE]
    return _merge(found) if found else ()


class PrivacyDetector:
    """``scan`` with a bounded least-recently-used cache; one instance lives in the router."""

    def __init__(self, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._cache: OrderedDict[str, tuple[Finding, ...]] = OrderedDict()
        self._cache_size = cache_size

    def scan(self, text: str) -> tuple[Finding, ...]:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        result = scan(text)
        self._cache[text] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result
