"""The vector side of memory: one chroma collection of record vectors, tagged with the model that made them.

Chroma never embeds on its own here: the store passes vectors it computed, and the collection carries a custom
embedding function (never chroma's default, which downloads a model) so chroma has nothing to fetch. All methods
are blocking; the store calls them through ``asyncio.to_thread``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.config import Settings
from chromadb.utils.embedding_functions import register_embedding_function

from assistant.errors import MemoryError_
from memory.embed import Embedder

__all__ = ["COLLECTION", "VectorHit", "VectorIndex"]

COLLECTION = "teamclaw_memory"
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
    """One collection; ``stale`` is True when it was built by another model and has just been emptied."""

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
        self.stale = False
        self._collection = self._open_collection()

    def _open_collection(self) -> Any:
        ef = StoreEmbeddingFunction(self._embedder)
        meta = {_MODEL_KEY: self._embedder.model_id, _DIM_KEY: self._embedder.dim}
        names = {c.name if hasattr(c, "name") else str(c) for c in self._client.list_collections()}
        if COLLECTION in names:
            existing = self._client.get_collection(COLLECTION, embedding_function=ef)  # type: ignore[arg-type]
            found = (existing.metadata or {}).get(_MODEL_KEY)
            if found == self._embedder.model_id:
                return existing
            # Built by another model: vectors of two models are never mixed. Drop it; the store re-embeds.
            self._client.delete_collection(COLLECTION)
            self.stale = True
        return self._client.create_collection(
            COLLECTION, metadata=meta, embedding_function=ef,  # type: ignore[arg-type]
            configuration={"hnsw": {"space": "cosine"}},
        )

    @property
    def model_id(self) -> str:
        return str((self._collection.metadata or {}).get(_MODEL_KEY, ""))

    def upsert(self, ids: Sequence[int], vectors: np.ndarray, metadatas: Sequence[dict[str, Any]]) -> None:
        if not ids:
            return
        self._collection.upsert(
            ids=[str(i) for i in ids], embeddings=vectors.astype(np.float32),
            metadatas=list(metadatas),  # type: ignore[arg-type]
        )

    def delete(self, ids: Sequence[int]) -> None:
        if ids:
            self._collection.delete(ids=[str(i) for i in ids])

    def query(self, vector: np.ndarray, where: dict[str, Any], n: int) -> list[VectorHit]:
        if n <= 0:
            return []
        result = self._collection.query(
            query_embeddings=[vector.astype(np.float32)], n_results=n, where=where, include=["distances"],
        )
        ids = result["ids"][0] if result["ids"] else []
        distances = (result.get("distances") or [[]])[0] or []
        return [VectorHit(int(i), float(d)) for i, d in zip(ids, distances, strict=False)]

    def all_ids(self) -> set[int]:
        out: set[int] = set()
        offset = 0
        while True:
            page = self._collection.get(include=[], limit=_PAGE, offset=offset)
            out.update(int(i) for i in page["ids"])
            if len(page["ids"]) < _PAGE:
                return out
            offset += _PAGE

    def count(self) -> int:
        return int(self._collection.count())

    def reset(self) -> None:
        """Empty the collection (rebuild): recreated with the current model id."""
        self._client.delete_collection(COLLECTION)
        self._collection = self._open_collection()
