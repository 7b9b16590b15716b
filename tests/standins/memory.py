"""Helpers for memory tests: a real SQLite database and a real embedded chroma under a temp dir, member scopes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.config import MemoryConfig
from assistant.messages import ChatKind, MemberScope
from assistant.storage.db import Database
from memory.embed import Embedder
from memory.store import MemoryStore


async def open_db(tmp_path: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'teamclaw.db'}")
    await db.migrate()
    return db


async def open_store(db: Database, tmp_path: Path, embedder_: Embedder | None, **config: object) -> MemoryStore:
    """A store under ``tmp_path``; ``embedder_`` None means the one ``config`` names."""
    return await MemoryStore.open(MemoryConfig.model_validate(config), db, tmp_path, embedder=embedder_)


def dm(member_id: int, name: str, **extra: object) -> MemberScope:
    return MemberScope(member_id, name, "telegram", f"dm{member_id}", ChatKind.DIRECT, **extra)  # type: ignore[arg-type]


def in_group(member_id: int, name: str, chat_id: str = "-100team", **extra: object) -> MemberScope:
    return MemberScope(member_id, name, "telegram", chat_id, ChatKind.GROUP, **extra)  # type: ignore[arg-type]


class FailingEmbedder:
    """An embedder whose backend is down (as an unreachable embeddings endpoint is): every call raises."""

    def __init__(self, like: Embedder) -> None:
        self._like = like

    @property
    def model_id(self) -> str:
        return self._like.model_id

    @property
    def dim(self) -> int:
        return self._like.dim

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        from assistant.errors import MemoryError_

        raise MemoryError_("embedding backend down")

    def embed_query(self, text: str) -> np.ndarray:
        from assistant.errors import MemoryError_

        raise MemoryError_("embedding backend down")
