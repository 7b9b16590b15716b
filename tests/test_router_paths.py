"""Every private-call path, proved on the wire: two model stand-ins, one configured local and one cloud; private
content must show up in the local one's request log and never in the cloud one's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from assistant.config import Config, ModelConfig
from assistant.errors import ContextOverflow, NoLocalModel, PrivacyViolation, ProviderUnavailable
from assistant.messages import ChatKind, MemberScope
from assistant.providers.base import ChatMessage, ModelRequest, ToolCall, ToolSpec
from assistant.router import Route, Router, guard_outbound
from assistant.storage.db import Database
from assistant.storage.tables import ModelCall
from tests.conftest import cloud_model, local_model
from tests.standins.model_server import ScriptedModelServer

PHONE = "13812345678"
ALICE = MemberScope(member_id=1, member_name="Alice", channel="telegram", chat_id="100", chat_kind=ChatKind.DIRECT)
GROUP = MemberScope(member_id=2, member_name="Bob", channel="feishu", chat_id="oc_team", chat_kind=ChatKind.GROUP)
SEARCH = ToolSpec("web_search", "search the web", {"type": "object", "properties": {"q": {"type": "string"}}})


@dataclass
class World:
    router: Router
    db: Database
    local: ScriptedModelServer
    cloud: ScriptedModelServer
    config: Config

    async def calls(self) -> list[ModelCall]:
        async with self.db.session() as session:
            return list((await session.execute(select(ModelCall).order_by(ModelCall.id))).scalars())


def models(local: ScriptedModelServer, cloud: ScriptedModelServer) -> dict[str, Any]:
    return {
        "small": local_model(local, max_retries=0, abilities=["tools", "json"]),
        "cloud": cloud_model(cloud, max_retries=0, abilities=["tools", "json"]),
        "strong": cloud_model(cloud, model="standin-strong", tier=3, max_retries=0, price_input=5.0,
                              price_output=15.0, price_cached_input=0.5, abilities=["tools", "json", "vision"]),
    }


@asynccontextmanager
async def open_world(make_config: Callable[..., Config], local: ScriptedModelServer, cloud: ScriptedModelServer,
                     **sections: Any) -> AsyncIterator[World]:
    config = make_config(models=sections.pop("models", None) or models(local, cloud), **sections)
    db = Database(config.database_url)
    await db.migrate()
    router = Router(config, db)
    try:
        yield World(router, db, local, cloud, config)
    finally:
        await router.aclose()
        await db.aclose()


@pytest.fixture
async def world(make_config: Callable[..., Config], model_server: ScriptedModelServer,
                cloud_server: ScriptedModelServer) -> AsyncIterator[World]:
    async with open_world(make_config, model_server, cloud_server) as w:
        yield w


def ask(text: str, *extra: ChatMessage, tools: tuple[ToolSpec, ...] = ()) -> ModelRequest:
    return ModelRequest(messages=(ChatMessage("system", "You are teamclaw."), ChatMessage("user", text), *extra),
                        tools=tools)


HARD = "Design a rate limiter for our public API that supports per-tenant quotas and bursts across 12 pods"


async def test_private_message_is_answered_locally_and_recorded(world: World) -> None:
    world.local.enqueue_text("noted")
    routed = await world.router.complete(ask(f"我手机号{PHONE}，有事打给我"), role="chat", scope=ALICE)
    assert routed.route.location == "local" and routed.route.private
    assert routed.route.reason.startswith("private: phone number")
    assert PHONE in world.local.all_text()
    assert world.cloud.requests == []
    [row] = await world.calls()
    assert (row.location, row.private, row.ok, row.member_id, row.role) == ("local", True, True, 1, "chat")
    assert row.route_reason.startswith("private: phone number") and PHONE not in row.route_reason


async def test_hard_public_work_goes_to_cloud_and_easy_work_stays_cheap(world: World) -> None:
    hard = await world.router.complete(ask(HARD), role="chat", scope=ALICE)
    easy = await world.router.complete(ask("morning all, standup in 5"), role="chat", scope=ALICE)
    assert (hard.route.model, hard.route.location, hard.route.private) == ("cloud", "cloud", False)
    assert hard.route.reason.startswith("hard: planning")
    assert (easy.route.model, easy.route.location) == ("small", "local")
    assert [r.body["model"] for r in world.cloud.requests] == ["standin-cloud"]
    rows = await world.calls()
    assert hard.cost > 0 and rows[0].cost == pytest.approx(hard.cost)
    assert rows[1].cost == 0.0


PRIVATE_CASES: dict[str, tuple[ModelRequest, dict[str, Any]]] = {
    "phone in the member's words": (ask(f"call me at {PHONE}. " + HARD), {}),
    "e-mail next to Chinese text": (ask("邮箱zhang.wei@163.com，" + HARD), {}),
    "API key in a tool call argument": (ask(HARD, ChatMessage("assistant", "", tool_calls=(
        ToolCall("c1", "web_search", '{"q": "sk-' + 'proj-a8Fj29dkLmQ0pXz7RtY2bNc4VwE6uHs1"}'),)),
        ChatMessage("tool", "no results", tool_call_id="c1")), {}),
    "address in a tool result": (ask(HARD, ChatMessage("assistant", "", tool_calls=(
        ToolCall("c1", "web_search", '{"q": "home"}'),)),
        ChatMessage("tool", "收货地址：上海市浦东新区张江路88号3栋1202室", tool_call_id="c1")), {}),
    "tool result marked private": (ask(HARD, ChatMessage("tool", "the locker code", tool_call_id="c1",
                                                         private=True)), {}),
    "memory marked private": (ask(HARD, ChatMessage("user", "<memory>prefers tea</memory>", private=True)), {}),
    "explicit flag": (ask(HARD), {"private": True}),
    "health in the system prompt": (ModelRequest(messages=(
        ChatMessage("system", "About the member: I was diagnosed with diabetes last year."),
        ChatMessage("user", HARD))), {}),
}


@pytest.mark.parametrize("role", ["chat", "tool_step", "subagent", "compaction", "extraction", "heartbeat",
                                  "classification"])
async def test_no_private_path_reaches_the_cloud(world: World, role: str) -> None:
    for n, case in enumerate(sorted(PRIVATE_CASES), 1):
        request, kwargs = PRIVATE_CASES[case]
        routed = await world.router.complete(request, role=role, scope=ALICE, **kwargs)  # type: ignore[arg-type]
        assert routed.route.private and routed.route.location == "local", case
        assert world.cloud.requests == [], case
        assert len(world.local.requests) == n, case
    rows = await world.calls()
    assert len(rows) == len(PRIVATE_CASES) and all(r.private and r.location == "local" for r in rows)


async def test_scope_and_config_flags_keep_calls_local(make_config: Callable[..., Config],
                                                       model_server: ScriptedModelServer,
                                                       cloud_server: ScriptedModelServer) -> None:
    routing = {"private_chats": ["feishu:oc_team"], "private_members": ["member:3"]}
    async with open_world(make_config, model_server, cloud_server, routing=routing) as w:
        in_private_chat = await w.router.complete(ask(HARD), role="chat", scope=GROUP)
        member3 = MemberScope(member_id=3, member_name="Carol", channel="telegram", chat_id="300",
                              chat_kind=ChatKind.DIRECT)
        listed_member = await w.router.complete(ask(HARD), role="subagent", scope=member3)
        marked = MemberScope(member_id=4, member_name="Dan", channel="telegram", chat_id="400",
                             chat_kind=ChatKind.DIRECT, private=True)
        marked_scope = await w.router.complete(ask(HARD), role="heartbeat", scope=marked)
        assert "chat in routing.private_chats" in in_private_chat.route.reason
        assert "member in routing.private_members" in listed_member.route.reason
        assert "member or chat marked private" in marked_scope.route.reason
        assert {r.route.location for r in (in_private_chat, listed_member, marked_scope)} == {"local"}
        assert w.cloud.requests == []


async def test_pinned_cloud_role_is_overridden_for_private_calls(make_config: Callable[..., Config],
                                                                 model_server: ScriptedModelServer,
                                                                 cloud_server: ScriptedModelServer) -> None:
    routing = {"roles": {"compaction": "strong"}}
    async with open_world(make_config, model_server, cloud_server, routing=routing) as w:
        public = await w.router.complete(ask("summarise: the build is green"), role="compaction", scope=ALICE)
        private = await w.router.complete(ask(f"summarise: Alice's number is {PHONE}"), role="compaction",
                                          scope=ALICE)
        assert public.route.model == "strong" and "pinned: compaction -> strong" in public.route.reason
        assert private.route.model == "small"
        assert "pinned cloud model strong overridden to local" in private.route.reason
        assert PHONE not in w.cloud.all_text() and PHONE in w.local.all_text()


async def test_private_failover_never_falls_back_to_the_cloud(make_config: Callable[..., Config],
                                                              model_server: ScriptedModelServer,
                                                              cloud_server: ScriptedModelServer) -> None:
    routing = {"fallbacks": {"chat": ["cloud", "strong"]}}
    async with open_world(make_config, model_server, cloud_server, routing=routing) as w:
        w.local.enqueue_fault(503)
        with pytest.raises(ProviderUnavailable):
            await w.router.complete(ask(f"text {PHONE} about the offsite"), role="chat", scope=ALICE)
        assert w.cloud.requests == []
        [row] = await w.calls()
        assert (row.model, row.ok, row.private) == ("small", False, True)
        assert row.error and row.error.startswith("ProviderUnavailable")


async def test_public_failover_walks_the_chain_and_records_every_attempt(world: World) -> None:
    world.cloud.enqueue_fault(503)  # "cloud" fails, then "strong" answers from the same stand-in
    world.cloud.enqueue_text("done")
    routed = await world.router.complete(ask(HARD), role="chat", scope=ALICE)
    assert routed.response.text == "done"
    assert routed.route.model == "strong" and "fallback after cloud: ProviderUnavailable" in routed.route.reason
    rows = await world.calls()
    assert [(r.model, r.ok) for r in rows] == [("cloud", False), ("strong", True)]


async def test_auth_errors_move_on_and_context_overflow_propagates(world: World) -> None:
    world.cloud.enqueue_fault(401)
    routed = await world.router.complete(ask(HARD), role="chat", scope=ALICE)
    assert routed.route.model == "strong"
    world.cloud.enqueue_fault(413)
    with pytest.raises(ContextOverflow):
        await world.router.complete(ask(HARD), role="chat", scope=ALICE)
    rows = await world.calls()
    assert [(r.model, r.ok) for r in rows] == [("cloud", False), ("strong", True), ("cloud", False)]


def test_guard_refuses_private_requests_to_cloud_models() -> None:
    cloud = ModelConfig(base_url="http://127.0.0.1:9/v1", model="m", location="cloud")
    local = ModelConfig(base_url="http://127.0.0.1:9/v1", model="m", location="local")
    with pytest.raises(PrivacyViolation, match="cloud model 'gpt'"):
        guard_outbound("gpt", cloud, private=True)
    guard_outbound("gpt", cloud, private=False)
    guard_outbound("mine", local, private=True)


async def test_no_local_model_means_private_work_fails_loudly(make_config: Callable[..., Config],
                                                              model_server: ScriptedModelServer,
                                                              cloud_server: ScriptedModelServer) -> None:
    only_cloud = {"cloud": cloud_model(cloud_server, max_retries=0)}
    config = make_config(models=only_cloud)
    db = Database(config.database_url)
    await db.migrate()
    # Providers given explicitly: the bundled local model is not among them, so nothing local is usable.
    from assistant.providers.factory import build_provider

    provider = build_provider("cloud", config.models["cloud"])
    router = Router(config, db, providers={"cloud": provider})
    try:
        with pytest.raises(NoLocalModel, match="must stay on this machine \\(phone number\\)") as caught:
            await router.complete(ask(f"my number {PHONE}"), role="chat", scope=ALICE)
        assert caught.value.kinds == ("phone",) and isinstance(caught.value, ProviderUnavailable)
        assert cloud_server.requests == []
    finally:
        await router.aclose()
        await provider.aclose()
        await db.aclose()


async def test_explain_sends_nothing_and_says_why(world: World) -> None:
    private = world.router.explain(f"我手机号{PHONE}", scope=ALICE)
    hard = world.router.explain("写一个Python函数，解析Nginx访问日志，统计每个接口的P99延迟")
    easy = world.router.explain("谢谢大家，今天辛苦了")
    assert private == Route(model="small", location="local", reason="private: phone number", private=True,
                            findings=("phone",), tier=1, chain=("small",))
    assert (hard.model, hard.location, hard.difficulty, hard.reason) == ("cloud", "cloud", "hard", "hard: code")
    assert hard.chain == ("cloud", "strong", "small")
    assert (easy.model, easy.difficulty, easy.private) == ("small", "easy", False)
    assert world.local.requests == [] and world.cloud.requests == []
    assert await world.calls() == []


async def test_modalities_go_to_a_model_that_reads_them_or_degrade(world: World) -> None:
    seen = await world.router.complete(ask("what is on this whiteboard photo?"), role="chat", scope=ALICE,
                                       needs=frozenset({"vision"}))
    assert seen.route.model == "strong"
    private = await world.router.complete(ask(f"what does this photo of my card say? {PHONE}"), role="chat",
                                          scope=ALICE, needs=frozenset({"vision"}))
    assert private.route.model == "small" and private.route.degraded == ("vision",)
    assert "degrade: no allowed model has vision" in private.route.reason
    heard = world.router.explain("transcribe this", scope=ALICE)
    assert heard.degraded == ()
    assert PHONE not in world.cloud.all_text()


async def test_tools_need_a_model_with_tools(world: World) -> None:
    routed = await world.router.complete(ask("find the release date", tools=(SEARCH,)), role="chat", scope=ALICE)
    assert routed.route.model == "small"
    assert world.local.requests[0].body["tools"][0]["function"]["name"] == "web_search"


async def test_health_reports_each_model(world: World) -> None:
    world.cloud.stop()
    health = await world.router.health()
    assert health["small"]["reachable"] is True and isinstance(health["small"]["latency_ms"], float)
    assert health["cloud"]["reachable"] is False and "unreachable" in str(health["cloud"]["error"])
    assert set(health) == {"small", "cloud", "strong"}


# Said by a member, the sentence-vector stage reads this as private (health); n-grams alone do not.
LOW_MOOD = "Sam has been really down since the breakup and stopped coming to practice"


async def test_what_people_say_gets_the_whole_detector_and_setup_and_recalled_lines_get_n_grams(
        world: World) -> None:
    def decide(*messages: ChatMessage) -> Route:
        return world.router.decide(ModelRequest(messages=messages), role="chat", scope=ALICE)

    said = decide(ChatMessage("system", "You are teamclaw."), ChatMessage("user", LOW_MOOD))
    in_transcript = decide(ChatMessage("user", f"<group-transcript>\nBob: {LOW_MOOD}\n</group-transcript>\nthoughts?"))
    in_setup = decide(ChatMessage("system", f"Team notes: {LOW_MOOD}"), ChatMessage("user", "morning all"))
    recalled = decide(ChatMessage("user", f"<memory>\n- {LOW_MOOD}\n</memory>\nmorning all"))
    recalled_flagged = decide(ChatMessage("user", f"<memory>\n- {LOW_MOOD}\n</memory>\nmorning all", private=True))
    assert said.private and in_transcript.private  # someone's words, read whole
    assert not in_setup.private and not recalled.private  # patterns and n-grams only
    assert recalled_flagged.private  # a recalled record's stored verdict rides on the message


async def test_the_privacy_scan_runs_off_the_event_loop(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    loop_thread = threading.get_ident()
    scanned_on: list[int] = []
    assess = Router._assess

    def spy(self: Router, *args: Any) -> Any:
        scanned_on.append(threading.get_ident())
        return assess(self, *args)

    monkeypatch.setattr(Router, "_assess", spy)
    world.local.enqueue_text("ok")
    await world.router.complete(ask("morning all, standup in 5"), role="chat", scope=ALICE)
    # A worker thread scanned (a scan may embed a text for ~15 ms; the loop serves other turns meanwhile).
    assert scanned_on and all(t != loop_thread for t in scanned_on)
