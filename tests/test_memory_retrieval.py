"""Retrieval over a small multi-session group history, ingested as `memory ingest` does: a fact spread over
sessions (multi-hop), a month named in the question (temporal), neighbouring small talk as distractors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from assistant.messages import ChatKind, MemberScope
from memory.ingest import ChatLine, ingest, stored_text
from memory.store import MemoryStore
from memory.timerange import parse_calendar_period
from tests.bench.memory_dataset import build, load

GROUP = MemberScope(0, "team", "telegram", "-100friends", ChatKind.GROUP)
OTHER = MemberScope(0, "team", "telegram", "-100other", ChatKind.GROUP)
FILLER = ["Ugh, Mondays.", "Anyone watching the football tonight?", "I need more coffee.", "Traffic was awful.",
          "Happy Friday everyone!", "My phone screen cracked, again.", "Weekend plans anyone?",
          "I'd love to see Kyoto someday.", "Travel is so expensive these days.", "Congrats!"]
# (session day, speaker, text, reference); the references named in the questions below are the evidence.
HISTORY = [
    ("2024-03-04", "Maya", "Just got back from Lisbon, the tiled houses were incredible.", "s1:maya-lisbon"),
    ("2024-03-04", "Tom", "My sister started a bakery, the croissants are unreal.", "s1:tom-sister"),
    ("2024-04-20", "Tom", "Spent a few days in Oslo, the fjord was freezing.", "s2:tom-oslo"),
    ("2024-05-11", "Maya", "Spent a week in Hanoi, I ate pho every single morning.", "s3:maya-hanoi"),
    ("2024-06-29", "Priya", "We signed the lease on a flat near the old town yesterday.", "s4:priya-lease"),
    ("2024-07-15", "Maya", "I was in Edinburgh for a wedding last weekend, the castle took my breath away.",
     "s5:maya-edinburgh"),
]


def _history() -> list[ChatLine]:
    lines: list[ChatLine] = []
    for n, (day, speaker, text, ref) in enumerate(HISTORY):
        at = datetime.fromisoformat(day).replace(hour=18, tzinfo=UTC)
        for i, filler in enumerate(FILLER):
            who = ("Tom", "Priya", "Maya")[(i + n) % 3]
            lines.append(ChatLine(who, filler, at + timedelta(minutes=i), f"s{n + 1}:filler{i}"))
        lines.append(ChatLine(speaker, text, at + timedelta(minutes=30), ref))
    return lines


async def _ingested(store: MemoryStore, scope: MemberScope, lines: list[ChatLine]) -> None:
    async def feed() -> AsyncIterator[ChatLine]:
        for line in lines:
            yield line

    ids = {name: n + 1 for n, name in enumerate(("Maya", "Tom", "Priya"))}

    async def speaker_id(name: str) -> int:
        return ids[name]

    await ingest(store, scope, "group", feed(), speaker_id, batch_size=16)


async def test_a_question_about_one_person_finds_their_lines_from_every_session(store: MemoryStore) -> None:
    await _ingested(store, GROUP, _history())
    found = await store.recall(GROUP, "Which places has Maya been to on her travels?", 5)
    refs = [r.source_ref for r in found]
    assert {"s1:maya-lisbon", "s3:maya-hanoi", "s5:maya-edinburgh"} <= set(refs), refs


async def test_a_month_in_the_question_finds_what_was_told_then(store: MemoryStore) -> None:
    await _ingested(store, GROUP, _history())
    found = await store.recall(GROUP, "Which city did Maya visit in May 2024?", 3)
    assert found[0].source_ref == "s3:maya-hanoi", [r.source_ref for r in found]
    found = await store.recall(GROUP, "When did Priya sign the rental contract?", 3)
    assert found[0].source_ref == "s4:priya-lease", [r.source_ref for r in found]


async def test_another_group_with_the_same_people_stays_apart(store: MemoryStore) -> None:
    await _ingested(store, GROUP, _history())
    await _ingested(store, OTHER, [ChatLine("Maya", "I have never left the country.", None, "other:1")])
    found = await store.recall(OTHER, "Which places has Maya been to on her travels?", 10)
    assert [r.source_ref for r in found] == ["other:1"]


def test_stored_text_names_the_speaker_once() -> None:
    assert stored_text("Alice", "hi") == "Alice: hi"
    assert stored_text("Alice", "Alice: hi") == "Alice: hi"
    assert stored_text("Alice", "alice ： hi") == "Alice: hi"
    assert stored_text("Alice", "Alice:") == "Alice:"
    assert stored_text("Alice", "Alicia: hi") == "Alice: Alicia: hi"


@pytest.mark.parametrize(("text", "since", "until"), [
    ("Where did Maya go in June 2024?", "2024-06-01", "2024-07-01"),
    ("what happened on 3 May 2024", "2024-05-03", "2024-05-04"),
    ("anything on May 3rd, 2024?", "2024-05-03", "2024-05-04"),
    ("the 2024-12-31 release", "2024-12-31", "2025-01-01"),
    ("2024年5月我们做了什么", "2024-05-01", "2024-06-01"),
    ("trips during 2023", "2023-01-01", "2024-01-01"),
])
def test_calendar_periods_named_in_a_question(text: str, since: str, until: str) -> None:
    found = parse_calendar_period(text)
    assert found is not None
    assert (found.since.date().isoformat(), found.until.date().isoformat()) == (since, until)


def test_no_calendar_period_without_a_date() -> None:
    assert parse_calendar_period("What might Maya enjoy in May?") is None
    assert parse_calendar_period("the 2024-13-45 build") is None


def test_the_committed_benchmark_set_is_what_its_generator_writes() -> None:
    data = build(seed=load()["seed"])
    assert data == load()
    kinds = {q["kind"] for q in data["questions"]}
    assert kinds == {"single-hop", "multi-hop", "temporal", "open-domain"} and len(data["conversations"]) >= 10
    turns = {t["id"] for c in data["conversations"] for s in c["sessions"] for t in s["turns"]}
    assert all(set(q["evidence"]) <= turns for q in data["questions"])
    spread = [q for q in data["questions"] if q["kind"] == "multi-hop"]
    assert all(len({e.split(":")[1] for e in q["evidence"]}) >= 2 for q in spread)  # over several sessions
