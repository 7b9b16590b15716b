"""spawn_subagents: three sub-agents in parallel with independent contexts (asserted on the model stand-in's
request log), tool subsets, limits on count, depth, time and cost, and progress in the chat.

The lead's agent provides ``run_subagent``; here a stand-in implements only that method as one fresh-context
call through the real OpenAI provider to the scripted model server, and records the spend in ``model_calls``.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any

from assistant.config import Config, ModelConfig
from assistant.messages import MemberScope
from assistant.providers.base import ChatMessage, ModelRequest
from assistant.providers.openai import OpenAIProvider
from assistant.storage.db import Database
from assistant.storage.tables import ModelCall
from assistant.tools import ToolRegistry
from tests.standins.model_server import ScriptedModelServer
from tests.standins.tool_world import RecordingChannel, member, open_world

TASKS = ["Find the price of plan A", "Find the price of plan B", "Find the price of plan C"]


class ModelBackedSubagents:
    """Stand-in for the agent's ``run_subagent``: one model call with a brand-new message list per task."""

    def __init__(self, server: ScriptedModelServer, db: Database, registry: ToolRegistry, cost: float = 0.0):
        cfg = ModelConfig(provider="openai", base_url=server.openai_base_url, model="standin", max_retries=0,
                          timeout_s=20)
        self.provider = OpenAIProvider("standin", cfg)
        self.db = db
        self.registry = registry
        self.cost = cost
        self.calls: list[tuple[str, frozenset[str], int]] = []

    async def run_subagent(self, scope: MemberScope, task: str, tools: frozenset[str], depth: int) -> str:
        self.calls.append((task, tools, depth))
        request = ModelRequest(messages=(ChatMessage("system", "You are a sub-agent: do only this task."),
                                         ChatMessage("user", task)), tools=self.registry.specs(tools))
        response = await self.provider.complete(request)
        async with self.db.session() as session:
            session.add(ModelCall(member_id=scope.member_id, role="subagent", model="standin", location="cloud",
                                  cost=self.cost))
        return response.text


def _user_texts(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "user"]


async def test_three_subagents_run_in_parallel_with_independent_contexts(
        make_config: Callable[..., Config]) -> None:
    # Each request waits until all three have arrived: run one after another, the barrier would break.
    barrier = threading.Barrier(3, timeout=10)

    def respond(body: dict[str, Any]) -> str:
        barrier.wait()
        return "answer: " + _user_texts(body)[-1].split()[-1]

    channel = RecordingChannel()
    with ScriptedModelServer(responder=respond) as server:
        async with open_world(make_config(), channels={"console": channel}) as world:
            agents = ModelBackedSubagents(server, world.services.db, world.registry)
            world.services.agents = agents
            alice = member(admin=True)
            args = {"tasks": [{"task": TASKS[0], "tools": ["web_search", "web_fetch"]},
                              {"task": TASKS[1], "tools": ["web_fetch"]},
                              {"task": TASKS[2]}]}
            result = await world.call(alice, "spawn_subagents", json.dumps(args))
            await agents.provider.aclose()
        requests = server.requests
    assert not result.error, result.content
    assert "3 sub-agents ran in parallel: 3 done" in result.content
    for letter in "ABC":
        assert f"answer: {letter}" in result.content
    assert len(requests) == 3
    for req in requests:
        users = _user_texts(req.body)
        assert len(users) == 1 and users[0] in TASKS  # a fresh context: only its own task
        assert sum(t in json.dumps(req.body) for t in TASKS) == 1
    sent_tools = {_user_texts(r.body)[0]: sorted(t["function"]["name"] for t in r.body.get("tools", []))
                  for r in requests}
    assert sent_tools == {TASKS[0]: ["web_fetch", "web_search"], TASKS[1]: ["web_fetch"], TASKS[2]: []}
    assert {depth for _task, _tools, depth in agents.calls} == {1}
    # Progress: one message, edited as each finished.
    assert len(channel.sent) == 1 and "0/3 finished" in channel.sent[0].text
    texts = [text for _pmid, text in channel.edits]
    assert 1 <= len(texts) <= 3 and len(set(texts)) == len(texts) and "3/3 finished" in texts[-1]
    assert {pmid for pmid, _ in channel.edits} == {"100"}


class ScriptedSubagents:
    """Stand-in ``run_subagent`` whose behaviour is picked by the task text (for limit tests)."""

    def __init__(self, db: Database, cost: float = 0.0) -> None:
        self.db = db
        self.cost = cost
        self.calls: list[tuple[str, frozenset[str]]] = []
        self.never = asyncio.Event()

    async def run_subagent(self, scope: MemberScope, task: str, tools: frozenset[str], depth: int) -> str:
        self.calls.append((task, tools))
        if task.startswith("hang"):
            await self.never.wait()
        if task.startswith("crash"):
            raise RuntimeError("boom")
        async with self.db.session() as session:
            session.add(ModelCall(member_id=scope.member_id, role="subagent", model="x", location="cloud",
                                  cost=self.cost))
        return f"did {task}"


async def test_tool_subset_is_intersected_with_the_callers_tools(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config()) as world:
        agents = ScriptedSubagents(world.services.db)
        world.services.agents = agents
        ctx = world.ctx(member(admin=True), allowed=frozenset({"spawn_subagents", "web_fetch"}))
        result = await world.registry.call("spawn_subagents", json.dumps(
            {"tasks": [{"task": "t1", "tools": ["web_fetch", "shell", "file_write"]}]}), ctx)
    assert "not permitted: file_write, shell" in result.content
    assert agents.calls == [("t1", frozenset({"web_fetch"}))]


async def test_count_and_depth_limits(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config(tools={"subagents_max": 2, "subagents_max_depth": 1})) as world:
        world.services.agents = ScriptedSubagents(world.services.db)
        admin = member(admin=True)
        too_many = await world.call(admin, "spawn_subagents", json.dumps({"tasks": [{"task": "a"}] * 3}))
        assert too_many.error and "at most 2" in too_many.content
        nested = await world.call(admin, "spawn_subagents", json.dumps({"tasks": [{"task": "a"}]}), depth=1)
        assert nested.error and "depth limit" in nested.content
        own = await world.call(admin, "spawn_subagents",
                               json.dumps({"tasks": [{"task": "a", "tools": ["spawn_subagents"]}]}))
        assert "not permitted: spawn_subagents" in own.content  # a depth-1 child may not spawn again


async def test_timeouts_and_crashes_do_not_break_the_batch(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config(tools={"subagents_timeout_s": 0.5})) as world:
        world.services.agents = ScriptedSubagents(world.services.db)
        result = await world.call(member(admin=True), "spawn_subagents", json.dumps(
            {"tasks": [{"task": "quick one"}, {"task": "hang forever"}, {"task": "crash now"}]}))
    assert not result.error
    assert "1 done, 1 failed, 1 timed out" in result.content and "did quick one" in result.content
    # No channel that edits: one progress message at the end, through the outbox.
    assert len(world.outbox.queued) == 1 and "3/3 finished" in world.outbox.queued[0][0].text


async def test_cost_limit_stops_the_rest(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config(tools={"subagents_max_cost": 1.0})) as world:
        agents = ScriptedSubagents(world.services.db, cost=0.6)
        world.services.agents = agents
        result = await world.call(member(admin=True), "spawn_subagents", json.dumps(
            {"tasks": [{"task": "one"}, {"task": "two"}, {"task": "hang until stopped"}]}))
    assert "2 done, 1 stopped" in result.content and "cost limit" in result.content
