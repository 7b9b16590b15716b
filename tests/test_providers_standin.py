"""The scripted model stand-in itself: concurrency, responders, recording and the prefix-cache figures."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from assistant.config import ModelConfig
from assistant.providers import ChatMessage, ModelRequest, ToolCall
from assistant.providers.anthropic import AnthropicProvider
from assistant.providers.openai import OpenAIProvider
from tests.standins.model_server import ScriptedModelServer, ScriptedReply, ScriptedToolCall


@pytest.fixture
def server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as running:
        yield running


def echo_last_user(body: dict[str, Any]) -> str:
    last = body["messages"][-1]["content"]
    text = last if isinstance(last, str) else last[0]["text"]
    return f"echo: {text}"


async def test_a_hundred_concurrent_calls_each_get_their_own_answer(server: ScriptedModelServer) -> None:
    server.responder = echo_last_user
    openai = OpenAIProvider("o", ModelConfig(base_url=server.openai_base_url, model="m"))
    anthropic = AnthropicProvider("a", ModelConfig(provider="anthropic", base_url=server.anthropic_base_url, model="m"))

    async def one(i: int) -> str:
        model = openai if i % 2 else anthropic
        answer = await model.complete(ModelRequest(messages=(ChatMessage("user", f"member {i}"),)))
        return answer.text

    try:
        answers = await asyncio.gather(*(one(i) for i in range(100)))
    finally:
        await openai.aclose()
        await anthropic.aclose()
    assert answers == [f"echo: member {i}" for i in range(100)]
    assert len(server.requests) == 100


async def test_responder_may_script_tool_calls(server: ScriptedModelServer) -> None:
    def decide(body: dict[str, Any]) -> ScriptedReply | None:
        if body["messages"][-1]["role"] == "user":
            return ScriptedReply(tool_calls=(ScriptedToolCall("clock", {}, "c1"),))
        return None  # falls back to "ok"

    server.responder = decide
    model = OpenAIProvider("o", ModelConfig(base_url=server.openai_base_url, model="m"))
    try:
        step = await model.complete(ModelRequest(messages=(ChatMessage("user", "time?"),)))
        done = await model.complete(
            ModelRequest(
                messages=(
                    ChatMessage("user", "time?"),
                    ChatMessage("assistant", "", tool_calls=step.tool_calls),
                    ChatMessage("tool", "09:30", tool_call_id="c1"),
                )
            )
        )
    finally:
        await model.aclose()
    assert step.tool_calls == (ToolCall("c1", "clock", "{}"),)
    assert done.text == "ok"


async def test_all_text_holds_everything_sent(server: ScriptedModelServer) -> None:
    model = AnthropicProvider("a", ModelConfig(provider="anthropic", base_url=server.anthropic_base_url, model="m"))
    request = ModelRequest(
        messages=(
            ChatMessage("system", "persona"),
            ChatMessage("user", "my locker code is 4711"),
            ChatMessage("assistant", "", tool_calls=(ToolCall("t1", "save", '{"note": "bike in shed B"}'),)),
            ChatMessage("tool", "saved #12", tool_call_id="t1"),
        )
    )
    try:
        await model.complete(request)
    finally:
        await model.aclose()
    text = server.all_text()
    for fragment in ("persona", "4711", "bike in shed B", "saved #12"):
        assert fragment in text


def test_wait_for_requests_reports_a_shortfall(server: ScriptedModelServer) -> None:
    with pytest.raises(AssertionError, match="0 of 1"):
        server.wait_for_requests(1, timeout=0.05)


async def test_wait_for_requests_wakes_on_arrival(server: ScriptedModelServer) -> None:
    async with httpx.AsyncClient() as client:
        waiting = asyncio.create_task(asyncio.to_thread(server.wait_for_requests, 2, 5.0))
        for _ in range(2):
            await client.post(server.openai_base_url + "/chat/completions", json={"messages": []})
        seen = await waiting
    assert [r.path for r in seen] == ["/v1/chat/completions"] * 2


def test_stop_releases_a_slow_reply() -> None:
    server = ScriptedModelServer().start()
    server.enqueue_slow(60, "never sent")
    failures: list[BaseException] = []

    def call() -> None:
        try:
            httpx.post(server.openai_base_url + "/chat/completions", json={"messages": []}, timeout=30)
        except httpx.HTTPError as exc:
            failures.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    server.wait_for_requests(1)
    started = time.monotonic()
    server.stop()
    caller.join(timeout=10)
    assert not caller.is_alive()
    assert failures, "the parked request was dropped, not answered"
    assert time.monotonic() - started < 10


async def test_cached_tokens_count_the_shared_prefix_exactly(server: ScriptedModelServer) -> None:
    async with httpx.AsyncClient() as client:
        url = server.openai_base_url + "/chat/completions"
        first = await client.post(url, json={"messages": [{"role": "system", "content": "s" * 400}]})
        second = await client.post(
            url,
            json={"messages": [{"role": "system", "content": "s" * 400}, {"role": "user", "content": "u" * 400}]},
        )
    assert first.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    usage = second.json()["usage"]
    # The whole first prompt (null tools line, newline, the system message up to its closing) is shared.
    shared = len('null\n{"role":"system","content":"' + "s" * 400 + '"}')
    assert usage["prompt_tokens_details"]["cached_tokens"] == -(-shared // 4)
    assert usage["prompt_tokens"] > usage["prompt_tokens_details"]["cached_tokens"]


async def test_cached_tokens_take_the_longest_prefix_of_any_earlier_prompt_in_the_window(
    server: ScriptedModelServer,
) -> None:
    def body(*contents: str) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": c} for c in contents]}

    def cached(response: httpx.Response) -> int:
        return int(response.json()["usage"]["prompt_tokens_details"]["cached_tokens"])

    async with httpx.AsyncClient() as client:
        url = server.openai_base_url + "/chat/completions"
        await client.post(url, json=body("a" * 400, "x" * 400))  # the longest match, and the oldest prompt
        await client.post(url, json=body("a" * 400))
        for n in range(5):  # newer prompts that share less
            await client.post(url, json=body("a" * 40 + str(n)))
        late = await client.post(url, json=body("a" * 400, "x" * 400, "y"))
        message = '{{"role":"user","content":"{}"}}'
        whole_first = len("null\n" + message.format("a" * 400) + "\n" + message.format("x" * 400))
        assert cached(late) == -(-whole_first // 4)  # the whole oldest prompt, not a newer prompt's shorter match

    with ScriptedModelServer(prefix_history=2) as small:
        async with httpx.AsyncClient() as client:
            url = small.openai_base_url + "/chat/completions"
            for content in ("q" * 400, "b", "c"):  # two newer prompts push the long one out of the window
                await client.post(url, json=body(content))
            evicted = await client.post(url, json=body("q" * 400))
        assert cached(evicted) == -(-len('null\n{"role":"user","content":"') // 4)


async def test_unknown_path_is_404(server: ScriptedModelServer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(server.openai_base_url + "/embeddings", json={})
    assert response.status_code == 404
