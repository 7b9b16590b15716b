"""The vector side of memory: record vectors in chroma, one collection per place, tagged with their model.

Chroma never embeds on its own here: the store passes vectors it computed, and the collection carries a custom
embedding function (never chroma's default, which downloads a model) so chroma has nothing to fetch. All methods
are blocking; the store calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings
from chromadb.errors import NotFoundError
from chromadb.utils.embedding_functions import register_embedding_function

from assistant.errors import MemoryError_
from memory.embed import Embedder

__all__ = ["MARKER", "PREFIX", "VectorHit", "VectorIndex"]

MISSING_RECHECK_S = 30.0
PREFIX = "tcmem-"  # one collection per place: tcmem-team, tcmem-p-<member id>, tcmem-g-<hash of group key>
MARKER = "tcmem_model"  # holds the model id in its metadata; no vectors
_MODEL_KEY = "teamclaw_model_id"
_DIM_KEY = "teamclaw_dim"
_PAGE = 5000


@register_embedding_function
class StoreEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma's handle on our ``Embedder``. Rebuilt from a persisted config it has no model and refuses to embed,
    so a process that forgot to pass the embedder fails loudly instead of downloading chroma's default."""

    def __init__(self, embedder: Embedder | None = None, model_id: str = "") -> None:
        self._embedder = embedder
        self._model_id = embedder.model_id if embedder is not None else model_id

    def __call__(self, input: Documents) -> Embeddings:
        if self._embedder is None:
            raise MemoryError_("the memory collection was opened without its embedder; open it through MemoryStore")
        return list(self._embedder.embed_documents(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        if self._embedder is None:
            raise MemoryError_("the memory collection was opened without its embedder; open it through MemoryStore")
        return [self._embedder.embed_query(text) for text in input]

    @staticmethod
    def name() -> str:
        return "teamclaw-memory"

    def get_config(self) -> dict[str, Any]:
        return {"model_id": self._model_id}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> StoreEmbeddingFunction:
        return StoreEmbeddingFunction(None, str(config.get("model_id", "")))

    def is_legacy(self) -> bool:
        return False

    def default_space(self) -> Any:
        return "cosine"

    def supported_spaces(self) -> list[Any]:
        return ["cosine"]


class VectorHit:
    __slots__ = ("distance", "record_id")

    def __init__(self, record_id: int, distance: float) -> None:
        self.record_id = record_id
        self.distance = distance


class VectorIndex:
    """Record vectors in one chroma collection per place (``memory.scopes.place_key``), plus a small marker
    collection that names the model. ``stale`` is True when the vectors were built by another model and have
    just been dropped (the store then re-embeds everything)."""

    def __init__(self, embedder: Embedder, *, path: Path | None = None, url: str = "") -> None:
        import chromadb

        settings = Settings(anonymized_telemetry=False, allow_reset=False)
        try:
            if url:
                parts = urlparse(url)
                if not parts.hostname:
                    raise MemoryError_(f"storage.chroma_url = {url!r} has no host: use http://host:8000")
                self._client = chromadb.HttpClient(
                    host=parts.hostname, port=parts.port or (443 if parts.scheme == "https" else 8000),
                    ssl=parts.scheme == "https", settings=settings,
                )
            else:
                assert path is not None
                path.mkdir(parents=True, exist_ok=True)
                self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        except MemoryError_:
            raise
        except Exception as exc:  # chroma raises plain ValueError/ConnectionError types of its own
            raise MemoryError_(f"cannot open the vector store ({url or path}): {exc}") from exc
        self._embedder = embedder
        self._ef = StoreEmbeddingFunction(embedder)
        self._collections: dict[str, Any] = {}
        self._missing: dict[str, float] = {}  # place -> until when its absence is believed
        self.stale = False
        self._check_model()

    def _names(self) -> list[str]:
        return [c.name if hasattr(c, "name") else str(c) for c in self._client.list_collections()]

    def _check_model(self) -> None:
        names = self._names()
        if MARKER in names:
            marker = self._client.get_collection(MARKER, embedding_function=self._ef)  # type: ignore[arg-type]
            if (marker.metadata or {}).get(_MODEL_KEY) == self._embedder.model_id:
                return
            # Built by another model: vectors of two models are never mixed. Drop them; the store re-embeds.
            self.stale = True
        elif any(n.startswith(PREFIX) for n in names):
            self.stale = True
        self._drop_all()
        self._client.create_collection(MARKER, metadata={_MODEL_KEY: self._embedder.model_id,
                                                         _DIM_KEY: self._embedder.dim},
                                       embedding_function=self._ef)  # type: ignore[arg-type]

    def _drop_all(self) -> None:
        for name in self._names():
            if name.startswith(PREFIX) or name == MARKER:
                self._client.delete_collection(name)
        self._collections.clear()

    def _collection(self, place: str, *, create: bool) -> Any | None:
        found = self._collections.get(place)
        if found is not None:
            return found
        name = PREFIX + place
        if not create and self._missing.get(place, 0.0) > time.monotonic():
            return None  # asked a moment ago and absent: listing collections costs more than the query
        try:
            if create:
                found = self._client.get_or_create_collection(
                    name, metadata={_MODEL_KEY: self._embedder.model_id}, embedding_function=self._ef,  # type: ignore[arg-type]
                    configuration={"hnsw": {"space": "cosine"}},
                )
            elif name in self._names():
                found = self._client.get_collection(name, embedding_function=self._ef)  # type: ignore[arg-type]
        except NotFoundError:
            found = None
        if found is not None:
            self._collections[place] = found
            self._missing.pop(place, None)
        else:
            # Only this process creates collections as it writes; another process (a CLI ingest) may, so the
            # absence is re-checked after a while.
            self._missing[place] = time.monotonic() + MISSING_RECHECK_S
        return found

    @property
    def model_id(self) -> str:
        marker = self._client.get_collection(MARKER, embedding_function=self._ef)  # type: ignore[arg-type]
        return str((marker.metadata or {}).get(_MODEL_KEY, ""))

    def upsert(self, items: Sequence[tuple[int, str]], vectors: np.ndarray,
               metadatas: Sequence[dict[str, Any]]) -> None:
        """``items``: (record id, place key) pairs, aligned with ``vectors`` rows and ``metadatas``."""
        by_place: dict[str, list[int]] = {}
        for row, (_, place) in enumerate(items):
            by_place.setdefault(place, []).append(row)
        for place, rows in by_place.items():
            collection = self._collection(place, create=True)
            assert collection is not None
            collection.upsert(
                ids=[str(items[r][0]) for r in rows], embeddings=vectors[rows].astype(np.float32),
                metadatas=[metadatas[r] for r in rows],
            )

    def delete(self, items: Sequence[tuple[int, str]]) -> None:
        by_place: dict[str, list[str]] = {}
        for record_id, place in items:
            by_place.setdefault(place, []).append(str(record_id))
        for place, ids in by_place.items():
            collection = self._collection(place, create=False)
            if collection is not None:
                collection.delete(ids=ids)

    def query(self, vector: np.ndarray, places: Sequence[str], n: int,
              where: dict[str, Any] | None = None) -> list[VectorHit]:
        """The ``n`` nearest records over ``places`` (and ``where``, when given), nearest first."""
        hits: list[VectorHit] = []
        for place in places:
            collection = self._collection(place, create=False)
            if collection is None or n <= 0:
                continue
            result = collection.query(query_embeddings=[vector.astype(np.float32)], n_results=n, where=where,
                                      include=["distances"])
            ids = result["ids"][0] if result["ids"] else []
            distances = (result.get("distances") or [[]])[0] or []
            hits += [VectorHit(int(i), float(d)) for i, d in zip(ids, distances, strict=False)]
        return sorted(hits, key=lambda h: h.distance)[:n]

    def query_near(self, vector: np.ndarray, seeds: Sequence[tuple[int, str]], weight: float,
                   places: Sequence[str], n: int, where: dict[str, Any] | None = None) -> list[VectorHit]:
        """Pseudo-relevance feedback in one call: the ``n`` records nearest to ``vector`` moved by ``weight``
        towards the mean stored vector of ``seeds`` ((record id, place key) pairs); none when no seed has one."""
        stored = self.vectors_of(seeds)
        found = [stored[i] for i, _ in seeds if i in stored]
        if not found:
            return []
        moved = vector + weight * np.mean(found, axis=0)
        return self.query((moved / max(float(np.linalg.norm(moved)), 1e-9)).astype(np.float32), places, n, where)

    def vectors_of(self, items: Sequence[tuple[int, str]]) -> dict[int, np.ndarray]:
        """The stored vectors of (record id, place key) pairs; absent ones are left out."""
        by_place: dict[str, list[str]] = {}
        for record_id, place in items:
            by_place.setdefault(place, []).append(str(record_id))
        out: dict[int, np.ndarray] = {}
        for place, ids in by_place.items():
            collection = self._collection(place, create=False)
            if collection is None:
                continue
            got = collection.get(ids=ids, include=["embeddings"])
            rows = got.get("embeddings")
            if rows is None:
                continue
            out.update((int(i), np.asarray(v, dtype=np.float32)) for i, v in zip(got["ids"], rows, strict=False))
        return out

    def all_ids(self) -> dict[int, str]:
        """Every stored vector id with its place."""
        out: dict[int, str] = {}
        for name in self._names():
            if not name.startswith(PREFIX):
                continue
            place = name[len(PREFIX):]
            collection = self._collection(place, create=False)
            offset = 0
            while collection is not None:
                page = collection.get(include=[], limit=_PAGE, offset=offset)
                out.update((int(i), place) for i in page["ids"])
                if len(page["ids"]) < _PAGE:
                    break
                offset += _PAGE
        return out

    def count(self) -> int:
        return len(self.all_ids())

    def reset(self) -> None:
        """Drop every vector (rebuild); the marker is recreated with the current model id."""
        self._drop_all()
        self._check_model()
