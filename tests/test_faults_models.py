"""Model faults injected at the stand-in: down (a closed port), slow, 429, 500, malformed replies and tool calls, and a
model looping on one tool call. Each is answered the way a member can live with, and the daemon keeps going."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from assistant.config import Config
from assistant.daemon import App
from assistant.storage.tables import ModelCall
from assistant.tools import Tool, ToolContext
from channels.console import ConsoleChannel
from tests.conftest import local_model
from tests.standins.model_server import ScriptedModelServer, ScriptedReply, ScriptedToolCall, _handler_for, _Server

REPLY_TIMEOUT = 20.0
NO_MODEL = "cannot reach any model"


class AddArgs(BaseModel):
    a: int
    b: int


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, args: AddArgs, ctx: ToolContext) -> str:
        self.calls += 1
        return str(args.a + args.b)


def closed_port() -> int:
    """A port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PortServer(ScriptedModelServer):
    """The stand-in on a port chosen in advance: the provider that was down comes up where the config points."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self._fixed_port = port

    def start(self) -> ScriptedModelServer:
        import threading

        server = _Server(("127.0.0.1", self._fixed_port), _handler_for(self))
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[tuple[App, ConsoleChannel]]:
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        yield app, console


async def ask(console: ConsoleChannel, text: str) -> str:
    mid = await console.say("you", text, chat="c1")
    return (await console.wait_reply(mid, REPLY_TIMEOUT)).text


async def calls(app: App) -> list[tuple[str, bool, str]]:
    async with app.services.db.session() as s:
        rows = (await s.execute(select(ModelCall).order_by(ModelCall.id))).scalars().all()
    return [(r.model, r.ok, r.error or "") for r in rows]


async def test_provider_down_tells_the_member_and_recovers_when_it_comes_up(make_config: Callable[..., Config]) -> None:
    port = closed_port()
    config = make_config(models={"only": {"provider": "openai", "base_url": f"http://127.0.0.1:{port}/v1",
                                          "model": "m", "location": "local", "max_retries": 0, "timeout_s": 5}})
    async with running(config) as (app, console):
        assert NO_MODEL in await ask(console, "hello?")
        assert NO_MODEL in await ask(console, "still there?")  # the loop lives on: every message is answered
        with PortServer(port) as server:
            server.enqueue_text("back online")
            assert await ask(console, "and now?") == "back online"
        log = await calls(app)
    assert [ok for _, ok, _ in log] == [False, False, True]
    assert log[0][2]  # the failure is recorded with its reason


async def test_provider_down_fails_over_to_the_next_model(make_config: Callable[..., Config],
                                                          model_server: ScriptedModelServer) -> None:
    config = make_config(
        models={"down": {"provider": "openai", "base_url": f"http://127.0.0.1:{closed_port()}/v1", "model": "m",
                         "location": "local", "max_retries": 0},
                "up": local_model(model_server, model="standin-up")},
        routing={"roles": {"chat": "down"}, "fallbacks": {"chat": ["up"]}},
    )
    async with running(config) as (app, console):
        model_server.enqueue_text("answered by the backup")
        assert await ask(console, "hi") == "answered by the backup"
        assert [(m, ok) for m, ok, _ in await calls(app)] == [("down", False), ("up", True)]


async def test_a_model_slower_than_its_timeout_is_abandoned_for_the_fallback(
        make_config: Callable[..., Config], model_server: ScriptedModelServer,
        cloud_server: ScriptedModelServer) -> None:
    config = make_config(
        models={"slow": local_model(model_server, timeout_s=0.3, max_retries=0),
                "quick": local_model(cloud_server, model="standin-quick")},
        routing={"roles": {"chat": "slow"}, "fallbacks": {"chat": ["quick"]}},
    )
    async with running(config) as (app, console):
        model_server.enqueue_slow(30, "too late")  # stop() releases it at teardown
        cloud_server.enqueue_text("in time")
        assert await ask(console, "quick question") == "in time"
        slow, quick = await calls(app)
    assert slow[:2] == ("slow", False) and quick[:2] == ("quick", True)


async def test_a_slow_model_without_fallback_gets_a_plain_apology(make_config: Callable[..., Config],
                                                                  model_server: ScriptedModelServer) -> None:
    config = make_config(models={"slow": local_model(model_server, timeout_s=0.3, max_retries=0)})
    async with running(config) as (_, console):
        model_server.enqueue_slow(30, "too late")
        reply = await ask(console, "quick question")
        model_server.enqueue_text("fine again")
        assert await ask(console, "next") == "fine again"
    assert NO_MODEL in reply and "Timeout" not in reply  # plain words, no exception names


async def test_429_with_retry_after_is_waited_out_then_answered(make_config: Callable[..., Config],
                                                                model_server: ScriptedModelServer) -> None:
    config = make_config(models={"m": local_model(model_server, max_retries=3)})
    async with running(config) as (_, console):
        model_server.enqueue_fault(429, retry_after=0.3)
        model_server.enqueue_fault(429, retry_after=0.3)
        model_server.enqueue_text("after two waits")
        assert await ask(console, "hi") == "after two waits"
    first, second, third = model_server.requests
    # Retry-After is honoured: the next try never comes before the time the provider named.
    assert second.time - first.time >= 0.3 and third.time - second.time >= 0.3


async def test_500_is_retried_and_answered_once(make_config: Callable[..., Config],
                                                model_server: ScriptedModelServer) -> None:
    config = make_config(models={"m": local_model(model_server, max_retries=2)})
    async with running(config) as (app, console):
        model_server.enqueue_fault(500)
        model_server.enqueue_fault(503)
        model_server.enqueue_text("third time lucky")
        assert await ask(console, "hi") == "third time lucky"
        assert len(model_server.requests) == 3
        assert [ok for _, ok, _ in await calls(app)] == [True]  # one call, retried inside the provider


async def test_a_broken_response_body_is_retried(make_config: Callable[..., Config],
                                                 model_server: ScriptedModelServer) -> None:
    config = make_config(models={"m": local_model(model_server, max_retries=2)})
    async with running(config) as (_, console):
        model_server.enqueue_malformed()
        model_server.enqueue_truncated()
        model_server.enqueue_text("readable at last")
        assert await ask(console, "hi") == "readable at last"


async def test_malformed_and_unknown_tool_calls_go_back_to_the_model_then_escalate(
        make_config: Callable[..., Config], model_server: ScriptedModelServer,
        cloud_server: ScriptedModelServer) -> None:
    config = make_config(models={"small": local_model(model_server, tier=0),
                                 "strong": local_model(cloud_server, model="standin-strong", tier=2)},
                         routing={"roles": {"chat": "small"}})
    adder = Counter()
    async with running(config) as (app, console):
        app.services.tools.register(Tool(name="add", description="Add.", args=AddArgs, func=adder))
        model_server.enqueue(ScriptedReply(tool_calls=(ScriptedToolCall("add", '{"a": 2, "b": '),
                                                       ScriptedToolCall("add", '["not", "an", "object"]'),
                                                       ScriptedToolCall("no_such_tool", {}))))
        cloud_server.enqueue_tool_call("add", {"a": 2, "b": 3})
        cloud_server.enqueue_text("2 + 3 = 5")
        assert await ask(console, "add 2 and 3") == "2 + 3 = 5"
    results = [m["content"] for m in cloud_server.requests[0].body["messages"] if m["role"] == "tool"]
    assert "malformed arguments" in results[0] and "malformed arguments" in results[1]
    assert "no tool named 'no_such_tool'" in results[2]
    assert adder.calls == 1  # only the valid call ran, on the stronger model the turn escalated to


async def test_a_model_looping_on_one_tool_call_is_stopped_and_answers(make_config: Callable[..., Config],
                                                                       model_server: ScriptedModelServer) -> None:
    def looping(body: dict[str, Any]) -> ScriptedReply | str:
        if body.get("tools"):
            return ScriptedReply(tool_calls=(ScriptedToolCall("add", {"a": 1, "b": 1}),))
        return "the answer is 2"

    model_server.responder = looping
    config = make_config(models={"m": local_model(model_server)}, agent={"max_steps": 6})
    adder = Counter()
    async with running(config) as (app, console):
        app.services.tools.register(Tool(name="add", description="Add.", args=AddArgs, func=adder))
        assert await ask(console, "1+1?") == "the answer is 2"
    assert adder.calls == 2  # the third identical call is refused, not run
    tool_results = [m["content"] for m in model_server.requests[-1].body["messages"] if m["role"] == "tool"]
    assert any("already called with these arguments" in r for r in tool_results)
    assert len(model_server.requests) == 7 and "tools" not in model_server.requests[-1].body
