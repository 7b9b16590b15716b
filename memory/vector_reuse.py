"""Each distinct text embedded once: the store's vector writer asks here which texts of a chunk still need the
model and takes the vectors of the others from texts embedded moments ago (chat repeats itself: "ok", "thanks",
"haha" in every speaker's voice).

The engine embeds each text of a batch on its own (attention stays within the text, activations are quantised
per token), so a text's vector does not depend on what it was batched with: reusing it changes nothing found.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

__all__ = ["REUSE_SIZE", "VectorReuse"]

# About 1.6 KB a vector (384 float32 and the key): a few MB while an ingest runs, released when it ends.
REUSE_SIZE = 4096


class VectorReuse:
    """Vectors of recently embedded texts, least recently used out first; ``size=0`` holds none and only merges
    the repeats within one chunk."""

    def __init__(self, size: int = REUSE_SIZE) -> None:
        self._size = size
        self._held: OrderedDict[str, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._held)

    def plan(self, texts: Sequence[str]) -> tuple[list[str], dict[str, np.ndarray]]:
        """The distinct texts still to embed (first-seen order) and the vectors already held for the others."""
        todo: list[str] = []
        known: dict[str, np.ndarray] = {}
        for text in dict.fromkeys(texts):
            vector = self._held.get(text)
            if vector is None:
                todo.append(text)
            else:
                known[text] = vector
                self._held.move_to_end(text)
        return todo, known

    def assemble(self, texts: Sequence[str], todo: Sequence[str], fresh: np.ndarray | None,
                 known: dict[str, np.ndarray]) -> np.ndarray:
        """One row per text of ``texts``, from ``fresh`` (the vectors of ``todo``, in order; None when nothing
        was left to embed) or ``known``; the fresh ones are held for the next chunks."""
        rows = [] if fresh is None else list(fresh)
        if len(todo) != len(rows):
            raise ValueError(f"{len(rows)} vectors for {len(todo)} texts")
        by_text = dict(known)
        for text, row in zip(todo, rows, strict=True):
            by_text[text] = row
            if self._size:
                # A copy: a held view would keep its whole batch's array alive after the other rows are dropped.
                self._held[text] = row.copy()
        while len(self._held) > self._size:
            self._held.popitem(last=False)
        return np.stack([by_text[text] for text in texts])
