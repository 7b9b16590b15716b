"""Compaction of working memory: durable facts are saved before old turns are folded into the summary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from assistant.config import MemoryConfig
from assistant.storage.db import Database
from assistant.storage.tables import Member, Session, TranscriptEntry
from memory.compaction import compact_session
from memory.store import MemoryStore
from tests.standins.memory import dm, open_db

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
