"""The heartbeat: silent and free when nothing needs attention, one short message when something does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant.config import HeartbeatConfig, SchedulerConfig
from assistant.heartbeat import Heartbeat, checklist_findings, heartbeat_request, is_nothing
from assistant.messages import ChatKind
from assistant.scheduler import JobKind, Scheduler
from assistant.storage.db import Database
from tests.standins.manual_clock import ManualClock
from tests.standins.scheduler_world import Host, add_member, add_message, open_db, scope

# Monday 2026-06-01 10:00 in Berlin (08:00 UTC): inside the default active hours 09:00-19:00.
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@dataclass
class Office:
    db: Database
    clock: ManualClock
    host: Host
    workspace: Path
    alice: int
    bob: int

    def heartbeat(self, **config: object) -> Heartbeat:
        return Heartbeat(self.db, self.clock, HeartbeatConfig(**config), self.host,  # type: ignore[arg-type]
                         self.workspace, default_timezone="UTC")

    async def bob_asks(self, text: str, minutes_ago: int = 30) -> int:
        return await add_message(self.db, member_id=self.bob, text=text, chat_id="g1", sender_name="Bob",
                                 at=self.clock.now() - timedelta(minutes=minutes_ago))

    def checklist(self, text: str) -> None:
        path = self.workspace / "members" / str(self.alice) / "HEARTBEAT.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture
async def office(tmp_path: Path) -> AsyncIterator[Office]:
    db = await open_db(tmp_path)
    clock = ManualClock(NOW)
    alice = await add_member(db, "Alice", timezone="Europe/Berlin")
    bob = await add_member(db, "Bob", timezone="Europe/Berlin")
    # Both were active recently; Alice also talks to the assistant in a direct chat.
    await add_message(db, member_id=alice, text="hi", chat_id="dm_alice", kind=ChatKind.DIRECT,
                      sender_name="Alice", at=NOW - timedelta(days=1))
    await add_message(db, member_id=bob, text="morning all", chat_id="g1", sender_name="Bob",
                      at=NOW - timedelta(hours=2))
    yield Office(db, clock, Host(db, clock), tmp_path / "workspace", alice, bob)
    await db.aclose()


async def test_idle_heartbeat_makes_no_model_call_at_all(office: Office) -> None:
    office.checklist("- [x] already done\n- [ ] 2026-12-01 renew the domain\n")
    assert await office.heartbeat().beat() == []
    assert office.host.heartbeat_calls == []
    assert office.host.delivered == []


async def test_an_unanswered_question_is_raised_once_and_said_in_the_direct_chat(office: Office) -> None:
    await office.bob_asks("Alice, can you review the billing PR today?")
    office.host.heartbeat_answers.append("Bob asked you in the team chat to review the billing PR today.")
    heartbeat = office.heartbeat()
    assert await heartbeat.beat() == [office.alice]

    [(member_id, findings)] = office.host.heartbeat_calls
    assert member_id == office.alice
    assert findings == ["Unanswered question from Bob in a group chat (2026-06-01 07:30 UTC): "
                        "Alice, can you review the billing PR today?"]
    [reply] = office.host.delivered
    assert (reply.chat_id, reply.text) == ("dm_alice", "Bob asked you in the team chat to review the billing PR today.")

    await office.clock.advance(timedelta(minutes=30), sleepers=0)
    assert await heartbeat.beat() == []
    assert len(office.host.heartbeat_calls) == 1  # the same question costs no second model call


async def test_a_question_the_member_already_answered_is_not_raised(office: Office) -> None:
    await office.bob_asks("Alice, lunch at 12?", minutes_ago=40)
    await add_message(office.db, member_id=office.alice, text="yes!", chat_id="g1", sender_name="Alice",
                      at=office.clock.now() - timedelta(minutes=35))
    await office.bob_asks("does anyone know where the keys are?", minutes_ago=30)  # not addressed to Alice
    await office.bob_asks("Alice 能帮我看一下这个报价吗", minutes_ago=1)  # too fresh to nag about
    assert await office.heartbeat().beat() == []
    assert office.host.heartbeat_calls == []


async def test_nothing_to_report_answers_are_dropped(office: Office) -> None:
    await office.bob_asks("Alice, is the release still on for Friday?")
    office.host.heartbeat_answers.append("NOTHING")
    assert await office.heartbeat().beat() == []
    assert len(office.host.heartbeat_calls) == 1
    assert office.host.delivered == []
    assert all(is_nothing(a) for a in ("", "  nothing to report. ", "无", "NOTHING", None))
    assert not is_nothing("Nothing urgent, but Bob asked about Friday.")


async def test_quiet_and_inactive_hours_keep_it_silent(office: Office) -> None:
    await office.bob_asks("Alice, can you check the server?")
    assert await office.heartbeat(active_hours="13:00-19:00").beat() == []
    assert await office.heartbeat(quiet_hours="09:30-11:00").beat() == []
    assert office.host.heartbeat_calls == []


async def test_the_daily_cap_holds_across_restarts_and_resets_the_next_day(office: Office) -> None:
    office.host.heartbeat_answers.extend(["first nudge", "second nudge", "next day"])
    await office.bob_asks("Alice, can you review PR 1?")
    assert await office.heartbeat(daily_cap=1).beat() == [office.alice]
    await office.bob_asks("Alice, can you review PR 2?", minutes_ago=20)
    assert await office.heartbeat(daily_cap=1).beat() == []  # a new heartbeat object: the count is in the db
    assert len(office.host.heartbeat_calls) == 1  # capped members cost no model call either

    office.clock.set(NOW + timedelta(days=1))
    await office.bob_asks("Alice, can you review PR 3?", minutes_ago=20)
    assert await office.heartbeat(daily_cap=1).beat() == [office.alice]
    assert [r.text for r in office.host.delivered] == ["first nudge", "second nudge"]


async def test_due_checklist_items_and_due_jobs_are_findings(office: Office) -> None:
    office.checklist("# my list\n- [ ] 2026-06-01 09:00 send the invoice\n- [ ] water the plants\n"
                     "- [x] 2026-05-01 done long ago\n- [ ] 2026-12-01 renew the domain\n")
    scheduler = Scheduler(office.db, office.clock, SchedulerConfig(), office.host)
    plan = scheduler.plan("in 40 minutes", timezone="Europe/Berlin")
    await scheduler.jobs.create(scope(office.alice, "Alice", timezone="Europe/Berlin"), plan, what="call the bank",
                                kind=JobKind.REMINDER)
    office.host.heartbeat_answers.append("Invoice is due, and you call the bank at 10:40.")
    assert await office.heartbeat().beat() == [office.alice]
    [(_, findings)] = office.host.heartbeat_calls
    assert findings == [
        "Scheduled job #1 is due at 10:40: call the bank",
        "Checklist item due: 2026-06-01 09:00 send the invoice",
        "Open checklist item: water the plants",
    ]


async def test_follow_ups_come_from_the_memory_store_when_it_offers_them(office: Office) -> None:
    class Followups:
        async def due_followups(self, member_id: int, now: datetime) -> Sequence[tuple[str, str]]:
            return [("42", "ask Carol whether the contract was signed")] if member_id == office.alice else []

    heartbeat = Heartbeat(office.db, office.clock, HeartbeatConfig(), office.host, office.workspace,
                          followups=Followups())
    office.host.heartbeat_answers.append("Did Carol sign the contract?")
    assert await heartbeat.beat() == [office.alice]
    assert office.host.heartbeat_calls[0][1] == ["Follow-up you asked for: ask Carol whether the contract was signed"]


async def test_the_heartbeat_ticks_on_its_own(office: Office) -> None:
    await office.bob_asks("Alice, any news on the offer?")
    office.host.heartbeat_answers.append("Bob is waiting to hear about the offer.")
    heartbeat = office.heartbeat(interval_min=30)
    await heartbeat.start()
    try:
        await office.clock.settled()
        assert office.clock.next_wake == NOW + timedelta(minutes=30)
        await office.clock.advance(timedelta(minutes=30))
        await office.host.wait_delivered(1)
        assert office.host.delivered[0].text == "Bob is waiting to hear about the offer."
    finally:
        await heartbeat.aclose()


def test_checklist_parsing() -> None:
    local = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    found = checklist_findings("- [ ] a\n* [ ] 2026-06-02 b\n- [x] c\n  - [ ] 2026-06-01 d\n", local)
    assert [f.text for f in found] == ["Open checklist item: a", "Checklist item due: 2026-06-01 d"]
    assert found[0].key.endswith(":2026-06-01")  # undated items come back once a day


def test_the_heartbeat_request_is_small_and_private() -> None:
    request = heartbeat_request("Alice", ["Unanswered question from Bob: lunch?"])
    assert len(request.messages) == 2 and request.messages[1].private
    assert "NOTHING" in request.messages[0].content and request.max_tokens == 200
