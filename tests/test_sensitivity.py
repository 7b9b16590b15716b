"""Sensitivity verdicts: stored beside what is written, judged again when the detector changes, and what they mean
for recall (visibility decides who reads; sensitivity decides what may leave the machine)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from assistant.config import MemoryConfig, RoutingConfig
from assistant.errors import NoLocalModel
from assistant.privacy import DETECTOR_VERSION
from assistant.sensitivity import Judge, rescan_all
from assistant.storage.db import Database
from assistant.storage.tables import Member, Session, TranscriptEntry
from memory.store import MemoryStore
from memory.tables import MemoryRecord
from tests.standins.memory import dm, in_group, open_store

ALICE_DM = dm(1, "Alice")
ALICE_G = in_group(1, "Alice")
ALICE_LOCAL = dm(1, "Alice", private=True)


@pytest.fixture
async def store(db: Database, tmp_path: Path) -> AsyncIterator[MemoryStore]:
    opened = await open_store(db, tmp_path, None, embedder="none")
    yield opened
    await opened.aclose()


def test_a_verdict_names_the_kinds_and_the_detector() -> None:
    judge = Judge()
    found = judge.judge("call me on 13812345678")
    assert found.private and "phone" in found.kinds and found.version == DETECTOR_VERSION
    assert not judge.judge("I prefer green tea").private
    assert judge.judge("I prefer green tea", local_only=True).private  # said where everything stays local


async def _rows(db: Database) -> dict[str, MemoryRecord]:
    async with db.session() as s:
        return {r.text: r for r in (await s.scalars(select(MemoryRecord))).all()}


async def test_records_keep_their_verdict_and_visibility_apart(db: Database, store: MemoryStore) -> None:
    await store.remember(ALICE_DM, "Alice prefers green tea")
    await store.remember(ALICE_DM, "Alice's phone is 13812345678")
    await store.remember(ALICE_LOCAL, "Alice likes long walks")
    rows = await _rows(db)
    tea, phone, walks = rows["Alice prefers green tea"], rows["Alice's phone is 13812345678"], \
        rows["Alice likes long walks"]
    assert tea.visibility == "private" and not tea.private and tea.sensitive_kinds == ""
    assert phone.private and "phone" in phone.sensitive_kinds.split(",")
    assert walks.private and walks.local_only and walks.sensitive_kinds == ""
    assert {r.detector_version for r in rows.values()} == {DETECTOR_VERSION}


async def test_a_group_recall_withholds_private_notes_and_a_cloud_only_recall_withholds_sensitive_ones(
        store: MemoryStore) -> None:
    await store.remember(ALICE_DM, "Alice's favourite snack is the ultramarine cookie")
    await store.remember(ALICE_DM, "Alice's snack budget phone line is 13812345678")
    in_group = await store.context_block(ALICE_G, "what is my favourite snack?", 800, include_private=False)
    assert "ultramarine" not in in_group.text and in_group.withheld_private
    direct = await store.context_block(ALICE_DM, "what is my favourite snack and the snack phone line?", 800,
                                       include_sensitive=False)
    assert "ultramarine" in direct.text and "13812345678" not in direct.text
    assert direct.withheld_sensitive and not direct.private


async def test_rows_judged_by_another_detector_are_judged_again(db: Database, store: MemoryStore) -> None:
    await store.remember(ALICE_DM, "Alice prefers green tea")
    await store.remember(ALICE_DM, "Alice's phone is 13812345678")
    async with db.session() as s:
        s.add(Member(id=1, name="Alice"))
        await s.flush()
        session_id = (await s.execute(Session.__table__.insert().values(key="k", member_id=1)
                                      .returning(Session.__table__.c.id))).scalar_one()
        await s.execute(TranscriptEntry.__table__.insert().values(
            session_id=session_id, role="user", content="my card ends with 9972 and my phone is 13812345678",
            private=False, detector_version="old"))
        # What 0.1.0 wrote: private because the record was the member's own, by an older detector.
        await s.execute(update(MemoryRecord).values(private=True, detector_version="", sensitive_kinds=""))
    judged = await rescan_all(db, Judge())
    assert judged == 3
    rows = await _rows(db)
    assert not rows["Alice prefers green tea"].private
    assert rows["Alice's phone is 13812345678"].private
    async with db.session() as s:
        entry = (await s.scalars(select(TranscriptEntry))).one()
    assert entry.private and entry.detector_version == DETECTOR_VERSION and "phone" in entry.sensitive_kinds
    assert await rescan_all(db, Judge()) == 0  # nothing left to judge


MUM = "my mum's MRI is on Friday and I am worried about the results"  # context only: the classifier, ~0.97


async def test_records_are_judged_at_the_routers_settings_and_again_when_those_change(
        db: Database, tmp_path: Path) -> None:
    lenient = await MemoryStore.open(MemoryConfig(embedder="none"), db, tmp_path, judge=Judge(0.99))
    try:
        await lenient.remember(ALICE_DM, MUM)
        await lenient.remember(ALICE_DM, "Alice's phone is 13812345678")  # identifiers: any threshold
    finally:
        await lenient.aclose()
    rows = await _rows(db)
    assert not rows[MUM].private and rows[MUM].detector_version == f"{DETECTOR_VERSION}/t0.99"
    assert rows["Alice's phone is 13812345678"].private
    assert await rescan_all(db, Judge(0.99)) == 0  # the same settings: nothing to judge again
    # Back to the model's own thresholds (routing.privacy_threshold removed): every row is judged again.
    assert await rescan_all(db, Judge()) == 2
    rows = await _rows(db)
    assert rows[MUM].private and rows[MUM].sensitive_kinds == "health"
    assert {r.detector_version for r in rows.values()} == {DETECTOR_VERSION}


def test_a_judge_follows_the_routing_keys() -> None:
    strict = Judge.for_routing(RoutingConfig(privacy_threshold=0.2, privacy_embeddings=False))
    assert strict.version == f"{DETECTOR_VERSION}/t0.2/n-grams" == strict.quick_version
    assert strict.judge("we should order pizza for the team on friday").version == strict.version
    default = Judge.for_routing(RoutingConfig())
    assert (default.version, default.quick_version) == (DETECTOR_VERSION, f"{DETECTOR_VERSION}/n-grams")
    assert not Judge(0.99).judge(MUM).private and Judge().judge(MUM).private


def test_no_local_model_is_both_a_privacy_refusal_and_an_unavailable_provider() -> None:
    from assistant.agent import stays_local_reply
    from assistant.errors import PrivacyViolation, ProviderUnavailable

    refusal = NoLocalModel("x", kinds=("phone", "id_card"))
    assert isinstance(refusal, PrivacyViolation) and isinstance(refusal, ProviderUnavailable)
    told = stays_local_reply(refusal)
    assert "phone number" in told and "ID card number" in told and "teamclaw onboard" in told
    assert "redaction" in told and "cannot reach" not in told
    configured = stays_local_reply(NoLocalModel("x", kinds=("phone",), configured=True))
    assert "did not respond" in configured and "teamclaw doctor" in configured
    by_config = stays_local_reply(NoLocalModel("x", flags=("chat in routing.private_chats",)))
    assert "set to keep everything on this machine" in by_config
