"""Memory through the whole path: what a member said is remembered for them, in later sessions, and only them."""

from __future__ import annotations

import json
from typing import Any

from assistant.daemon import App
from channels.console import ConsoleChannel
from tests.conftest import cloud_model, local_model
from tests.standins.model_server import ScriptedModelServer

REPLY_TIMEOUT = 30.0


async def _say(console: ConsoleChannel, user: str, text: str, chat: str) -> str:
    mid = await console.say(user, text, chat=chat)
    return (await console.wait_reply(mid, REPLY_TIMEOUT)).text


async def test_a_private_fact_is_recalled_for_its_member_only_and_stays_local(
        make_config: Any, model_server: ScriptedModelServer, cloud_server: ScriptedModelServer) -> None:
    config = make_config(models={"local": local_model(model_server, tier=1),
                                 "cloud": cloud_model(cloud_server, tier=1, price_input=0.01)},
                         memory={"enabled": True})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
        await _say(console, "alice", "remember that my locker code is 4711", chat="alice-1")
        # A new session (another chat id) for Alice: the fact comes from long-term memory, not the history.
        await _say(console, "alice", "what is my locker code?", chat="alice-2")
        await _say(console, "bob", "what is alice's locker code?", chat="bob-1")
    alice_asks = [r for r in model_server.requests if "what is my locker code?" in json.dumps(r.body)]
    assert alice_asks and "4711" in json.dumps(alice_asks[-1].body["messages"][-1])
    # Private memory in the prompt keeps the call on the local model: the cloud stand-in never sees it.
    assert "4711" not in cloud_server.all_text()
    bob_requests = [r for r in model_server.requests + cloud_server.requests
                    if "bob: what is alice's locker code?" in r.body["messages"][-1]["content"]]
    assert bob_requests and all("4711" not in json.dumps(r.body) for r in bob_requests)


async def test_linking_two_accounts_brings_the_memory_along(make_config: Any,
                                                            model_server: ScriptedModelServer) -> None:
    config = make_config(models={"local": local_model(model_server)}, memory={"enabled": True})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
        await _say(console, "alice-phone", "remember that my locker code is 4711", chat="p-1")
        await _say(console, "alice", "hello", chat="a-1")
        linked = await _say(console, "you", "/link console:alice console:alice-phone", chat="owner")
        assert linked.startswith("Linked:")
        await _say(console, "alice", "what is my locker code?", chat="a-2")
    asked = [r for r in model_server.requests if "what is my locker code?" in json.dumps(r.body)]
    assert asked and "4711" in json.dumps(asked[-1].body["messages"][-1])
