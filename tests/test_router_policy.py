"""Budgets, escalation, remembered outcomes, redaction and the local second opinion, through the real router and
the real provider code against the two model stand-ins."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from assistant.config import Config
from assistant.context import ContextBuilder, transcript_line
from assistant.messages import ChatKind, MemberScope, utcnow
from assistant.privacy.detector import PrivacyDetector
from assistant.providers.base import ChatMessage, ModelRequest
from assistant.router import Route, Router
from assistant.storage.db import Database
from assistant.storage.tables import ModelCall
from assistant.usage import spend_query
from memory.render import render_block
from memory.retrieve import Recalled
from tests.standins.model_server import ScriptedModelServer, ScriptedReply, ScriptedToolCall
from tests.test_router_paths import ALICE, GROUP, HARD, PHONE, World, ask, open_world


@pytest.fixture
async def world(make_config: Callable[..., Config], model_server: ScriptedModelServer,
                cloud_server: ScriptedModelServer) -> AsyncIterator[World]:
    async with open_world(make_config, model_server, cloud_server) as w:
        yield w


async def spend(w: World, member_id: int | None, cost: float, *, days_ago: int = 0) -> None:
    async with w.db.session() as session:
        session.add(ModelCall(member_id=member_id, role="chat", model="cloud", location="cloud", cost=cost,
                              route_reason="hard: code", created_at=utcnow() - timedelta(days=days_ago)))


async def test_budget_warns_at_the_ratio_then_routes_to_the_cheapest_model(
        make_config: Callable[..., Config], model_server: ScriptedModelServer,
        cloud_server: ScriptedModelServer) -> None:
    budgets = {"member_daily": 1.0, "team_monthly": 100.0, "warn_ratio": 0.8}
    async with open_world(make_config, model_server, cloud_server, budgets=budgets) as w:
        await spend(w, 1, 0.85)
        warned = await w.router.complete(ask(HARD), role="chat", scope=ALICE)
        assert warned.route.model == "cloud"
        assert "budget: member daily 85%" in warned.route.reason
        await spend(w, 1, 0.20)
        over = await w.router.complete(ask(HARD), role="chat", scope=ALICE)
        assert over.route.model == "small"
        assert re.search(r"budget: member daily 1\d\d% -> cheapest model", over.route.reason)
        other = MemberScope(member_id=9, member_name="Eve", channel="telegram", chat_id="9",
                            chat_kind=ChatKind.DIRECT)
        fresh = await w.router.complete(ask(HARD), role="chat", scope=other)
        assert fresh.route.model == "cloud" and "budget" not in fresh.route.reason
        private = await w.router.complete(ask(f"{HARD}, my number is {PHONE}"), role="chat", scope=ALICE)
        assert private.route.location == "local" and "budget" not in private.route.reason


async def test_yesterdays_spend_does_not_count_against_today(make_config: Callable[..., Config],
                                                             model_server: ScriptedModelServer,
                                                             cloud_server: ScriptedModelServer) -> None:
    async with open_world(make_config, model_server, cloud_server, budgets={"member_daily": 1.0}) as w:
        await spend(w, 1, 5.0, days_ago=2)
        routed = await w.router.complete(ask(HARD), role="chat", scope=ALICE)
        assert routed.route.model == "cloud" and "budget" not in routed.route.reason


async def test_team_budget_applies_to_everyone(make_config: Callable[..., Config],
                                               model_server: ScriptedModelServer,
                                               cloud_server: ScriptedModelServer) -> None:
    async with open_world(make_config, model_server, cloud_server, budgets={"team_daily": 2.0}) as w:
        await spend(w, 5, 2.5)
        routed = await w.router.complete(ask(HARD), role="chat", scope=ALICE)
        assert routed.route.model == "small" and "budget: team daily 125%" in routed.route.reason
        unscoped = await w.router.complete(ask(HARD), role="heartbeat", scope=None)
        assert unscoped.route.model == "small"


async def test_the_budget_sum_reads_only_the_current_period_also_on_a_database_from_the_first_release(
        tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    await db.aclose()
    conn = sqlite3.connect(path)  # as 0.1.0 left it: no index on the call time, schema at 0001
    with conn:
        conn.execute("DROP INDEX ix_model_calls_created_at")
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    conn.close()
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.migrate()
    try:
        now = utcnow()
        async with db.session() as session:
            session.add_all([ModelCall(member_id=1, role="chat", model="cloud", location="cloud", cost=1.0,
                                       created_at=now - timedelta(days=400)),
                             ModelCall(member_id=1, role="chat", model="cloud", location="cloud", cost=0.25,
                                       created_at=now)])
        query = spend_query(1, now - timedelta(hours=1), now - timedelta(days=2))
        async with db.session() as session:
            assert tuple((await session.execute(query)).one()) == (0.25, 0.25, 0.25, 0.25)
            compiled = query.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
            plan = " ".join(str(row[-1]) for row in await session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
        assert "USING INDEX ix_model_calls_created_at" in plan, plan
    finally:
        await db.aclose()


async def test_caller_escalation_and_remembered_wrong_answers(make_config: Callable[..., Config],
                                                              model_server: ScriptedModelServer,
                                                              cloud_server: ScriptedModelServer) -> None:
    question = "写一个Python函数，解析Nginx访问日志，统计每个接口的P99延迟"
    async with open_world(make_config, model_server, cloud_server) as w:
        raised = await w.router.complete(ask("谢谢大家"), role="chat", scope=ALICE, min_tier=3)
        assert raised.route.model == "strong" and "escalated: caller asked for tier 3" in raised.route.reason
        first = await w.router.complete(ask(question), role="chat", scope=ALICE)
        assert first.route.model == "cloud"
        await w.router.feedback(ALICE, question, ok=False)
        again = await w.router.complete(ask("帮我写一个Python函数解析Nginx访问日志，统计每个接口P99延迟"),
                                        role="chat", scope=ALICE)
        assert again.route.model == "strong"
        assert "escalated: a similar request was answered wrong at tier 2" in again.route.reason
        unrelated = await w.router.complete(ask("用SQL写一个查询：找出过去30天每个用户连续登录的最长天数"),
                                            role="chat", scope=ALICE)
        assert unrelated.route.model == "cloud"
        config = w.config
    # A restart remembers: the verdict lives in the database (as hashed keywords, not the member's words).
    from assistant.storage.db import Database

    db = Database(config.database_url)
    router = Router(config, db)
    try:
        await router.refresh(ALICE)
        assert router.explain(question, scope=ALICE).model == "strong"
        await router.feedback(ALICE, question, ok=True)
        assert router.explain(question, scope=ALICE).model == "cloud"
        async with db.session() as session:
            from sqlalchemy import text

            stored = (await session.execute(text("SELECT signature FROM route_outcomes"))).scalars().all()
        assert stored and all("Nginx" not in s and "日志" not in s for s in stored)
    finally:
        await router.aclose()
        await db.aclose()


def echo_placeholders(body: dict[str, Any]) -> str | ScriptedReply:
    last = body["messages"][-1]["content"]
    found = re.findall(r"⟨[A-Z_]+_\d+⟩", last)
    if "send" in last:
        return ScriptedReply(tool_calls=(ScriptedToolCall("send_sms", {"to": found[0], "text": "moved"}),))
    return "I will text " + " and ".join(found)


async def test_redaction_round_trip(make_config: Callable[..., Config], model_server: ScriptedModelServer,
                                    cloud_server: ScriptedModelServer) -> None:
    cloud_server.responder = echo_placeholders
    email = "lisa.wang@acme-corp.com"
    text = f"{HARD}. Then text {PHONE} and mail {email}, and {PHONE} again"
    async with open_world(make_config, model_server, cloud_server, routing={"redaction": True}) as w:
        routed = await w.router.complete(ask(text), role="chat", scope=ALICE)
        assert routed.route.location == "cloud" and not routed.route.private
        assert routed.route.reason.startswith("redacted: phone number, e-mail address; hard")
        sent = cloud_server.all_text()
        assert PHONE not in sent and email not in sent
        assert sent.count("⟨PHONE_1⟩") == 2 and "⟨EMAIL_1⟩" in sent
        assert routed.response.text == f"I will text {PHONE} and {email} and {PHONE}"

        call = await w.router.complete(ask(f"{HARD}; send {PHONE} a note"), role="chat", scope=ALICE)
        assert json.loads(call.response.tool_calls[0].arguments) == {"to": PHONE, "text": "moved"}

        marked = MemberScope(member_id=4, member_name="Dan", channel="telegram", chat_id="4",
                             chat_kind=ChatKind.DIRECT, private=True)
        flagged = await w.router.complete(ask(text), role="chat", scope=marked)
        health = await w.router.complete(ask(f"{HARD}; I was diagnosed with diabetes, call {PHONE}"),
                                         role="chat", scope=ALICE)
        assert flagged.route.location == "local" and health.route.location == "local"
        assert "diabetes" not in cloud_server.all_text()
        assert len(cloud_server.requests) == 2


def second_opinion_says(personal: bool) -> Callable[[dict[str, Any]], str]:
    def respond(body: dict[str, Any]) -> str:
        if "response_format" in body:
            return json.dumps({"personal_data": personal, "kind": "health" if personal else "none"})
        return "local answer"

    return respond


async def test_local_second_opinion_can_keep_a_call_local(make_config: Callable[..., Config],
                                                          model_server: ScriptedModelServer,
                                                          cloud_server: ScriptedModelServer) -> None:
    subtle = "Design a rollout plan for my return to work after the long treatment, in phases, with owners"
    # The band's lower edge between the classifier's doubt about the two harmless tasks: the one at or above it is
    # asked about, the other never waits for the local model. By default (0.01) the sure one is not asked either.
    detector = PrivacyDetector()
    sure_doubt, hard_doubt = detector.doubt(SURE), detector.doubt(HARD)
    assert sure_doubt < min(hard_doubt, 0.01)
    edge = (sure_doubt + hard_doubt) / 2
    async with open_world(make_config, model_server, cloud_server,
                          routing={"privacy_second_opinion": True, "privacy_second_opinion_from": edge}) as w:
        model_server.responder = second_opinion_says(True)
        kept = await w.router.complete(ask(subtle), role="chat", scope=ALICE)
        assert kept.route.location == "local" and "local model opinion" in kept.route.reason
        assert cloud_server.requests == []
        asked = model_server.requests[0].body
        assert asked["response_format"]["type"] == "json_schema" and subtle in json.dumps(asked, ensure_ascii=False)

        model_server.responder = second_opinion_says(False)
        sent = await w.router.complete(ask(HARD), role="chat", scope=ALICE)
        assert sent.route.location == "cloud"
        # Outside the classifier's uncertain band (it gives this text under routing.privacy_second_opinion_from):
        # the local model is not asked at all.
        assert w.router.judge.detector().doubt(SURE) < edge <= w.router.judge.detector().doubt(HARD)
        model_server.responder = second_opinion_says(True)
        sure = await w.router.complete(ask(SURE), role="chat", scope=ALICE)
        assert sure.route.location == "cloud"
        rows = await w.calls()
        assert [(r.role, r.location, r.private) for r in rows] == [
            ("classification", "local", True), ("chat", "local", True),
            ("classification", "local", True), ("chat", "cloud", False), ("chat", "cloud", False)]


SURE = "Design a fault-tolerant distributed job scheduler with leader election and exactly-once execution semantics"


async def test_a_band_from_zero_asks_the_local_model_about_every_cloud_bound_request(
        make_config: Callable[..., Config], model_server: ScriptedModelServer,
        cloud_server: ScriptedModelServer) -> None:
    async with open_world(make_config, model_server, cloud_server,
                          routing={"privacy_second_opinion": True, "privacy_second_opinion_from": 0.0}) as w:
        model_server.responder = second_opinion_says(False)
        assert (await w.router.complete(ask(SURE), role="chat", scope=ALICE)).route.location == "cloud"
        assert [(r.role, r.location) for r in await w.calls()] == [("classification", "local"), ("chat", "cloud")]


async def test_cached_input_is_priced_at_the_cached_rate(world: World) -> None:
    long_prefix = "Context: " + "the quarterly planning notes say many things. " * 40
    first = await world.router.complete(ask(long_prefix + HARD), role="chat", scope=ALICE, min_tier=3)
    second = await world.router.complete(ask(long_prefix + HARD), role="chat", scope=ALICE, min_tier=3)
    rows = await world.calls()
    assert rows[1].cached_tokens > 0
    fresh = rows[1].tokens_in - rows[1].cached_tokens
    expected = (fresh * 5.0 + rows[1].cached_tokens * 0.5 + rows[1].tokens_out * 15.0) / 1_000_000
    assert second.cost == rows[1].cost
    assert rows[1].cost == expected and second.cost < first.cost


@pytest.mark.parametrize("transcript, member_text", [
    ([("Dave", f"call me on {PHONE}")], HARD),  # a lone transcript line
    ([("Erin", "lunch?"), ("Dave", f"call me on {PHONE}"), ("Frank", "sure")], HARD),  # a middle line
    ([("Erin", "lunch?"), ("Frank", "sure")], f"{HARD}; my number is {PHONE}"),  # the member's own words
    # found only across the line break inside one message (neither of its lines alone is private)
    ([("Erin", "the new hire starts Monday"), ("Dave", "my address is\nbehind the old mill, gate 3")], HARD),
    ([("Dave", "微信号\ndave_2024x"), ("Erin", "ok")], HARD),
])
async def test_the_group_transcript_is_scanned_message_by_message_and_nothing_is_skipped(
        world: World, transcript: list[tuple[str, str]], member_text: str) -> None:
    lines = "\n".join(transcript_line(who, text) for who, text in transcript)
    context = ContextBuilder.user_message(GROUP, member_text, utcnow(), transcript=lines)
    request = ModelRequest(messages=(ChatMessage("system", "You are teamclaw."), context))
    private = world.router.decide(request, role="chat", scope=GROUP)
    calm = world.router.decide(ModelRequest(messages=(ChatMessage("system", "You are teamclaw."),
                                                      ContextBuilder.user_message(GROUP, HARD, utcnow(),
                                                                                  transcript="Erin: lunch?"))),
                               role="chat", scope=GROUP)
    assert private.private and private.location == "local"
    assert not calm.private and calm.location == "cloud"


def _recalled(n: int, text: str) -> Recalled:
    return Recalled(id=n, text=text, kind="fact", visibility="private", score=1.0, speaker="", said_at=utcnow(),
                    trusted=True, private=False, owner_member_id=1, group_key=None, source_message_id=None,
                    source_ref="", source_record_id=None, confidence=1.0, importance=0.5)


@pytest.mark.parametrize("records, member_text", [
    ([f"Dave's number is {PHONE}"], HARD),  # a lone record
    (["Erin prefers green tea", f"call Dave on {PHONE}", "the demo is on Friday"], HARD),  # a middle record
    (["Erin prefers green tea"], f"{HARD}; my number is {PHONE}"),  # the member's own words
    (["Dave's address is\nbehind the old mill, gate 3"], HARD),  # across a line break inside one record
])
async def test_recalled_memory_is_scanned_record_by_record_and_nothing_is_skipped(
        world: World, records: list[str], member_text: str) -> None:
    def decide(block: str, text: str) -> Route:
        context = ContextBuilder.user_message(ALICE, text, utcnow(), memory=block)
        return world.router.decide(ModelRequest(messages=(ChatMessage("system", "You are teamclaw."), context)),
                                   role="chat", scope=ALICE)

    block = render_block([_recalled(i, text) for i, text in enumerate(records)], 2000).text
    assert block.count("\n") == len(records)  # the header, then one line per record
    private = decide(block, member_text)
    calm = decide(render_block([_recalled(9, "Erin prefers green tea")], 2000).text, HARD)
    assert private.private and private.location == "local"
    assert not calm.private and calm.location == "cloud"


def test_a_transcript_line_holds_one_whole_message() -> None:
    assert transcript_line("Dave", "first line\nsecond line\r\nthird") == \
        "Dave: first line\u2028second line\u2028third"
