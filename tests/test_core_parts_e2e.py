"""Parts seen through the running daemon: parallel sub-agents with the real agent, and the served dashboard."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx

from assistant.daemon import App
from channels.console import ConsoleChannel
from tests.conftest import local_model
from tests.standins.model_server import ScriptedModelServer, ScriptedReply, ScriptedToolCall

REPLY_TIMEOUT = 30.0
TASKS = ["count the apples", "count the pears", "count the plums"]


async def test_three_sub_agents_run_in_parallel_with_fresh_contexts(make_config: Any,
                                                                    model_server: ScriptedModelServer) -> None:
    all_three = threading.Barrier(3, timeout=10)

    def responder(body: dict[str, Any]) -> ScriptedReply:
        system = body["messages"][0]["content"]
        last = body["messages"][-1]
        if "You are a sub-agent" in system:
            all_three.wait()  # each sub-agent's request waits for the other two: only parallel runs pass
            task = last["content"]
            return ScriptedReply(text=f"{task.split()[-1]}: 3")
        if last["role"] == "tool":
            return ScriptedReply(text="apples 3, pears 3, plums 3")
        return ScriptedReply(tool_calls=(ScriptedToolCall("spawn_subagents", {"tasks": [{"task": t} for t in TASKS]}),))

    model_server.responder = responder
    config = make_config(models={"standin": local_model(model_server)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
        mid = await console.say("you", "count the fruit, one helper per kind, in my secret-project-x", chat="c1")
        reply = await console.wait_reply(mid, REPLY_TIMEOUT)
    assert reply.text == "apples 3, pears 3, plums 3"
    subagent_requests = [r.body for r in model_server.requests
                         if "You are a sub-agent" in r.body["messages"][0]["content"]]
    assert sorted(b["messages"][-1]["content"] for b in subagent_requests) == sorted(TASKS)
    for body in subagent_requests:  # fresh context: nothing of the member's conversation
        assert "secret-project-x" not in json.dumps(body)
    final = model_server.requests[-1].body["messages"]
    assert final[-1]["role"] == "tool" and all(f"{kind}: 3" in final[-1]["content"]
                                               for kind in ("apples", "pears", "plums"))


async def test_the_daemon_serves_the_dashboard_with_live_status(make_config: Any,
                                                                model_server: ScriptedModelServer) -> None:
    config = make_config(models={"standin": local_model(model_server)}, dashboard={"enabled": True, "port": 0})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, status_file=False) as app:
        mid = await console.say("alice", "hello", chat="c1")
        await console.wait_reply(mid, REPLY_TIMEOUT)
        assert app.dashboard_url is not None
        async with httpx.AsyncClient(base_url=app.dashboard_url, timeout=10) as client:
            page = await client.get("/")
            health = (await client.get("/api/health")).json()
    assert page.status_code == 200 and "teamclaw" in page.text.lower()
    assert "console" in json.dumps(health)
    assert "alice" in json.dumps(health)  # the sub-agent that just answered is listed
