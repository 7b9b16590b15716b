"""Compaction of working memory: durable facts are saved before old turns are folded into the summary."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from assistant.config import Config, MemoryConfig
from assistant.router import Router
from assistant.storage.db import Database
from assistant.storage.tables import Member, Session, TranscriptEntry
from memory.compaction import compact_session
from memory.store import MemoryStore
from tests.conftest import cloud_model, local_model
from tests.standins.memory import dm, open_db
from tests.standins.model_server import ScriptedModelServer

ALICE = dm(1, "Alice")
TURNS = [
    ("user", "Remember that my parking spot is B-17."),
    ("assistant", "Noted: parking spot B-17."),
    ("user", "We decided to move the weekly sync to Thursdays."),
    ("assistant", "Okay, Thursdays it is."),
    ("user", "What's the weather like?"),
    ("assistant", "I cannot see the weather from here."),
    ("user", "Thanks."),
    ("assistant", "You're welcome."),
]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_db(tmp_path)
    async with database.session() as session:
        session.add(Member(id=1, name="Alice"))
    yield database
    await database.aclose()


@pytest.fixture
async def store(db: Database, tmp_path: Path) -> AsyncIterator[MemoryStore]:
    # A keyword-only store (memory.embedder = "none"): compaction must work with no model of any kind.
    s = await MemoryStore.open(MemoryConfig(embedder="none"), db, tmp_path)
    yield s
    await s.aclose()


async def _session_with_turns(db: Database) -> int:
    async with db.session() as session:
        row = Session(key=ALICE.session_key, member_id=1)
        session.add(row)
        await session.flush()
        for role, content in TURNS:
            session.add(TranscriptEntry(session_id=row.id, role=role, content=content))
        return row.id


async def test_compaction_saves_facts_before_dropping_turns(store: MemoryStore, db: Database) -> None:
    session_id = await _session_with_turns(db)
    services = SimpleNamespace(memory=store, db=db, router=None)

    result = await compact_session(services, ALICE, session_id, keep_last=2)

    assert result.compacted == 6 and result.facts_saved == 2 and not result.used_model
    found = [r.text for r in await store.recall(ALICE, "parking spot", 3)]
    assert "Alice's parking spot is B-17" in found
    assert any(r.kind == "decision" for r in await store.recall(ALICE, "weekly sync Thursdays", 5))
    async with db.session() as session:
        live = (await session.scalars(select(TranscriptEntry).where(TranscriptEntry.compacted.is_(False)))).all()
        summary = (await session.get(Session, session_id)).summary  # type: ignore[union-attr]
    assert [e.content for e in live] == ["Thanks.", "You're welcome."]
    assert "parking spot is B-17" in summary and "Thursdays" in summary  # extractive: nothing is lost
    journal = [r.text for r in await store.list_records(ALICE, kinds=("journal",))]
    assert any(t.startswith("Session summary (Alice)") for t in journal)


async def test_compaction_with_nothing_to_drop_changes_nothing(store: MemoryStore, db: Database) -> None:
    session_id = await _session_with_turns(db)
    result = await compact_session(SimpleNamespace(memory=store, db=db, router=None), ALICE, session_id,
                                   keep_last=len(TURNS))
    assert result.compacted == 0 and result.facts_saved == 0


async def test_with_a_router_facts_and_summary_come_from_the_local_model(
    make_config: Callable[..., Config], model_server: ScriptedModelServer, cloud_server: ScriptedModelServer,
    tmp_path: Path,
) -> None:
    config = make_config(models={"local": local_model(model_server), "cloud": cloud_model(cloud_server)})
    db = Database(config.database_url)
    await db.migrate()
    async with db.session() as session:
        session.add(Member(id=1, name="Alice"))
    store = await MemoryStore.open(MemoryConfig(embedder="none"), db, tmp_path)
    router = Router(config, db)
    model_server.enqueue_text(json.dumps({"facts": [
        {"text": "Alice's favourite editor is Helix", "kind": "preference", "visibility": "private"}]}))
    model_server.enqueue_text("Alice set up her parking spot and the weekly sync moved to Thursdays.")
    try:
        session_id = await _session_with_turns(db)
        result = await compact_session(SimpleNamespace(memory=store, db=db, router=router), ALICE, session_id,
                                       keep_last=2)
    finally:
        await router.aclose()
        await store.aclose()
    assert result.used_model and result.facts_saved == 3
    assert result.summary == "Alice set up her parking spot and the weekly sync moved to Thursdays."
    assert len(model_server.requests) == 2 and cloud_server.requests == []  # a direct chat stays local
    assert "parking spot is B-17" in model_server.all_text()
    reopened = await MemoryStore.open(MemoryConfig(embedder="none"), db, tmp_path)
    found = await reopened.recall(ALICE, "favourite editor", 1)
    assert [r.text for r in found] == ["Alice's favourite editor is Helix"]
    await db.aclose()
