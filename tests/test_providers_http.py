"""The cloud providers over real HTTP against the scripted model stand-in, in both wire formats."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from contextlib import aclosing
from typing import Any

import pytest
from pydantic import SecretStr

from assistant.config import ModelConfig
from assistant.errors import (
    ConfigError,
    ContextOverflow,
    ProviderAuthError,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
)
from assistant.providers import ChatMessage, ModelRequest, ToolCall, ToolSpec, build_provider
from assistant.providers.anthropic import AnthropicProvider
from assistant.providers.local import LocalModelProvider
from assistant.providers.openai import OpenAIProvider
from tests.standins.model_server import ScriptedModelServer

SECRET = "sk-test-9f3a77c1-never-in-logs"
KINDS = ["openai", "anthropic"]
LOCKER_TOOL = ToolSpec(
    name="memory_search",
    description="Search the member's memory.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as running:
        yield running


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


def model_config(kind: str, server: ScriptedModelServer, **overrides: Any) -> ModelConfig:
    values: dict[str, Any] = {
        "provider": kind,
        "base_url": server.openai_base_url if kind == "openai" else server.anthropic_base_url,
        "model": "test-model",
        "api_key": SecretStr(SECRET),
        "timeout_s": 5.0,
        "max_retries": 2,
    }
    values.update(overrides)
    return ModelConfig(**values)


def provider(
    kind: str, server: ScriptedModelServer, sleep: SleepRecorder, **overrides: Any
) -> OpenAIProvider | AnthropicProvider:
    cfg = model_config(kind, server, **overrides)
    if kind == "openai":
        return OpenAIProvider("cloud", cfg, sleep=sleep)
    return AnthropicProvider("cloud", cfg, sleep=sleep)


def ask(text: str, **kwargs: Any) -> ModelRequest:
    return ModelRequest(
        messages=(ChatMessage("system", "You are the team's assistant."), ChatMessage("user", text)), **kwargs
    )


@pytest.mark.parametrize("kind", KINDS)
async def test_text_answer_and_headers(kind: str, server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    server.enqueue_text("The stand-up is at 10:00.")
    model = provider(kind, server, sleep)
    try:
        answer = await model.complete(ask("When is the stand-up?"))
    finally:
        await model.aclose()
    assert answer.text == "The stand-up is at 10:00."
    assert answer.tool_calls == ()
    assert answer.finish_reason == "stop"
    assert answer.usage.input_tokens > 0 and answer.usage.output_tokens > 0
    (seen,) = server.requests
    assert seen.body["model"] == "test-model"
    if kind == "openai":
        assert seen.path == "/v1/chat/completions"
        assert seen.headers["authorization"] == f"Bearer {SECRET}"
        assert seen.body["messages"][0] == {"role": "system", "content": "You are the team's assistant."}
    else:
        assert seen.path == "/v1/messages"
        assert seen.headers["x-api-key"] == SECRET
        assert seen.headers["anthropic-version"] == "2023-06-01"
        assert seen.body["system"][0]["text"] == "You are the team's assistant."
        assert seen.body["messages"] == [
            {"role": "user", "content": [{"type": "text", "text": "When is the stand-up?"}]}
        ]


async def test_no_key_sends_no_authorization(server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    model = provider("openai", server, sleep, api_key=None)
    try:
        await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert "authorization" not in server.requests[0].headers


@pytest.mark.parametrize("kind", KINDS)
async def test_tool_call_round_trip(kind: str, server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    server.enqueue_tool_call("memory_search", {"query": "locker code"}, call_id="call_7")
    server.enqueue_text("It is in your private notes.")
    model = provider(kind, server, sleep)
    first = ask("Where is my locker code?", tools=(LOCKER_TOOL,))
    try:
        step = await model.complete(first)
        assert step.tool_calls == (ToolCall("call_7", "memory_search", '{"query": "locker code"}'),)
        assert step.finish_reason == "tool_calls"
        follow_up = ModelRequest(
            messages=(
                *first.messages,
                ChatMessage("assistant", "", tool_calls=step.tool_calls),
                ChatMessage("tool", "locker: see private note #3", tool_call_id="call_7", name="memory_search"),
            ),
            tools=(LOCKER_TOOL,),
        )
        final = await model.complete(follow_up)
    finally:
        await model.aclose()
    assert final.text == "It is in your private notes."
    sent = server.requests[1].body
    if kind == "openai":
        assert sent["tools"][0] == {
            "type": "function",
            "function": {
                "name": "memory_search",
                "description": LOCKER_TOOL.description,
                "parameters": LOCKER_TOOL.parameters,
            },
        }
        assert sent["messages"][2] == {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_7",
                    "type": "function",
                    "function": {"name": "memory_search", "arguments": '{"query": "locker code"}'},
                }
            ],
        }
        assert sent["messages"][3] == {
            "role": "tool",
            "content": "locker: see private note #3",
            "tool_call_id": "call_7",
        }
    else:
        assert sent["tools"][0] == {
            "name": "memory_search",
            "description": LOCKER_TOOL.description,
            "input_schema": LOCKER_TOOL.parameters,
        }
        assert sent["messages"][1] == {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_7", "name": "memory_search", "input": {"query": "locker code"}}
            ],
        }
        assert sent["messages"][2] == {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "call_7", "content": "locker: see private note #3"}],
        }


@pytest.mark.parametrize("kind", KINDS)
async def test_malformed_tool_arguments_are_passed_on(
    kind: str, server: ScriptedModelServer, sleep: SleepRecorder
) -> None:
    server.enqueue_tool_call("memory_search", '{"query": "locker', call_id="call_1")
    model = provider(kind, server, sleep)
    try:
        step = await model.complete(ask("find it", tools=(LOCKER_TOOL,)))
    finally:
        await model.aclose()
    # Not an error here: the tool registry answers the model with the parse error.
    assert step.tool_calls[0].arguments == '{"query": "locker'
    assert len(server.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_streaming_yields_pieces(kind: str, server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    text = "Lunch is booked for six people at noon on Friday."
    server.enqueue_text(text)
    model = provider(kind, server, sleep)
    try:
        async with aclosing(model.stream(ask("book lunch"))) as pieces:
            received = [piece async for piece in pieces]
    finally:
        await model.aclose()
    assert "".join(received) == text
    assert len(received) > 1
    assert server.requests[0].body["stream"] is True


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_retries_a_rate_limit_before_the_first_piece(
    kind: str, server: ScriptedModelServer, sleep: SleepRecorder
) -> None:
    server.enqueue_fault(429, retry_after=3)
    server.enqueue_text("second time lucky")
    model = provider(kind, server, sleep)
    try:
        received = "".join([piece async for piece in model.stream(ask("hi"))])
    finally:
        await model.aclose()
    assert received == "second time lucky"
    assert sleep.delays == [3.0]


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_refuses_tools(kind: str, server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    model = provider(kind, server, sleep)
    try:
        with pytest.raises(ProviderError, match="complete"):
            async for _ in model.stream(ask("hi", tools=(LOCKER_TOOL,))):
                pass
    finally:
        await model.aclose()
    assert server.requests == []


@pytest.mark.parametrize("kind", KINDS)
async def test_429_honours_retry_after(kind: str, server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    server.enqueue_fault(429, retry_after=7)
    server.enqueue_text("after the wait")
    model = provider(kind, server, sleep)
    try:
        answer = await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert answer.text == "after the wait"
    assert sleep.delays == [7.0]
    assert len(server.requests) == 2


@pytest.mark.parametrize(("kind", "status"), [("openai", 500), ("openai", 503), ("anthropic", 529)])
async def test_server_error_then_success(
    kind: str, status: int, server: ScriptedModelServer, sleep: SleepRecorder
) -> None:
    server.enqueue_fault(status)
    server.enqueue_text("recovered")
    model = provider(kind, server, sleep)
    try:
        answer = await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert answer.text == "recovered"
    assert len(sleep.delays) == 1 and 0.0 <= sleep.delays[0] <= 0.5


async def test_server_errors_exhaust_retries(server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    for _ in range(3):
        server.enqueue_fault(502)
    model = provider("openai", server, sleep, max_retries=2)
    try:
        with pytest.raises(ProviderUnavailable, match="502"):
            await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert len(server.requests) == 3
    assert len(sleep.delays) == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_timeout_raises_provider_timeout(kind: str, server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    server.enqueue_slow(30, "too late")
    model = provider(kind, server, sleep, timeout_s=0.3, max_retries=0)
    try:
        with pytest.raises(ProviderTimeout, match="timeout_s"):
            await model.complete(ask("hi"))
    finally:
        await model.aclose()


async def test_timeout_is_retried(server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    server.enqueue_slow(30, "too late")
    server.enqueue_text("in time")
    # Long enough that the second, prompt answer arrives in time on a busy machine (0.3 s did not, once).
    model = provider("openai", server, sleep, timeout_s=1.5, max_retries=1)
    try:
        answer = await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert answer.text == "in time"
    assert len(sleep.delays) == 1


@pytest.mark.parametrize(("kind", "status"), [("openai", 401), ("anthropic", 401), ("openai", 403)])
async def test_auth_failure_is_never_retried(
    kind: str, status: int, server: ScriptedModelServer, sleep: SleepRecorder
) -> None:
    server.enqueue_fault(status)
    model = provider(kind, server, sleep, max_retries=5)
    try:
        with pytest.raises(ProviderAuthError, match=r"models\.cloud\.api_key"):
            await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert len(server.requests) == 1
    assert sleep.delays == []


@pytest.mark.parametrize("kind", KINDS)
async def test_malformed_body_is_retried(kind: str, server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    server.enqueue_malformed()
    server.enqueue_text("clean answer")
    model = provider(kind, server, sleep)
    try:
        answer = await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert answer.text == "clean answer"
    assert len(server.requests) == 2


async def test_malformed_bodies_end_as_unavailable(server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    for _ in range(3):
        server.enqueue_malformed()
    model = provider("openai", server, sleep, max_retries=2)
    try:
        with pytest.raises(ProviderUnavailable, match="not JSON"):
            await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert len(server.requests) == 3


@pytest.mark.parametrize("kind", KINDS)
async def test_answer_of_the_wrong_shape_is_retried(
    kind: str, server: ScriptedModelServer, sleep: SleepRecorder
) -> None:
    server.enqueue_fault(200, body={"id": "x", "object": "something else"})
    server.enqueue_text("proper answer")
    model = provider(kind, server, sleep)
    try:
        answer = await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert answer.text == "proper answer"
    assert len(sleep.delays) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_truncated_body_is_retried(kind: str, server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    server.enqueue_truncated()
    server.enqueue_text("whole answer")
    model = provider(kind, server, sleep)
    try:
        answer = await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert answer.text == "whole answer"
    assert len(server.requests) == 2


async def test_truncated_bodies_end_as_unavailable(server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    server.enqueue_truncated()
    model = provider("openai", server, sleep, max_retries=0)
    try:
        with pytest.raises(ProviderUnavailable):
            await model.complete(ask("hi"))
    finally:
        await model.aclose()


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (
            "openai",
            {
                "error": {
                    "message": "This model's maximum context length is 8192 tokens. However, your "
                    "messages resulted in 9120 tokens.",
                    "type": "invalid_request_error",
                    "code": "context_length_exceeded",
                }
            },
        ),
        (
            "anthropic",
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "prompt is too long: 210000 tokens > 200000 maximum",
                },
            },
        ),
    ],
)
async def test_context_overflow_is_mapped(
    kind: str, body: dict[str, Any], server: ScriptedModelServer, sleep: SleepRecorder
) -> None:
    server.enqueue_fault(400, body=body)
    model = provider(kind, server, sleep)
    try:
        with pytest.raises(ContextOverflow):
            await model.complete(ask("a very long question"))
    finally:
        await model.aclose()
    assert len(server.requests) == 1


async def test_other_client_errors_carry_the_endpoint_message(
    server: ScriptedModelServer, sleep: SleepRecorder
) -> None:
    server.enqueue_fault(404, body={"error": {"message": "The model `gpt-9` does not exist", "type": "x"}})
    model = provider("openai", server, sleep)
    try:
        with pytest.raises(ProviderError) as info:
            await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert type(info.value) is ProviderError
    assert "does not exist" in str(info.value)
    assert len(server.requests) == 1


async def test_connection_refused_is_unavailable(sleep: SleepRecorder) -> None:
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cfg = ModelConfig(provider="openai", base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1)
    model = OpenAIProvider("cloud", cfg, sleep=sleep)
    try:
        with pytest.raises(ProviderUnavailable, match="unreachable"):
            await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert len(sleep.delays) == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_cached_tokens_follow_the_stable_prefix(
    kind: str, server: ScriptedModelServer, sleep: SleepRecorder
) -> None:
    model = provider(kind, server, sleep)
    history = ask("first question", tools=(LOCKER_TOOL,))
    try:
        first = await model.complete(history)
        longer = ModelRequest(
            messages=(*history.messages, ChatMessage("assistant", "ok"), ChatMessage("user", "second question")),
            tools=(LOCKER_TOOL,),
        )
        second = await model.complete(longer)
        changed = ModelRequest(
            messages=(ChatMessage("system", "A different persona."), *longer.messages[1:]), tools=(LOCKER_TOOL,)
        )
        third = await model.complete(changed)
    finally:
        await model.aclose()
    assert first.usage.cached_tokens == 0
    assert 0 < second.usage.cached_tokens < second.usage.input_tokens
    # Tools and the system prompt come first; a new system prompt leaves only the tools cached.
    assert third.usage.cached_tokens < second.usage.cached_tokens


@pytest.mark.parametrize("kind", KINDS)
async def test_json_schema_answer(kind: str, server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    schema = {"type": "object", "properties": {"private": {"type": "boolean"}}, "required": ["private"]}
    if kind == "openai":
        server.enqueue_text('{"private": true}')
    else:
        server.enqueue_tool_call("json_answer", {"private": True})
    model = provider(kind, server, sleep)
    try:
        answer = await model.complete(ask("is this private?", json_schema=schema))
    finally:
        await model.aclose()
    assert json.loads(answer.text) == {"private": True}
    assert answer.tool_calls == ()
    body = server.requests[0].body
    if kind == "openai":
        assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    else:
        assert body["tool_choice"] == {"type": "tool", "name": "json_answer"}
        assert body["tools"][0]["input_schema"] == schema


async def test_api_key_never_logged(
    server: ScriptedModelServer, sleep: SleepRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.enqueue_fault(429, retry_after=1)
    server.enqueue_text("fine")
    server.enqueue_fault(401, body={"error": {"message": f"Incorrect API key provided: {SECRET}"}})
    server.enqueue_fault(500)
    server.enqueue_fault(500)
    errors: list[BaseException] = []
    model = provider("openai", server, sleep, max_retries=1)
    try:
        await model.complete(ask("hi"))
        for _ in range(2):
            try:
                await model.complete(ask("hi"))
            except ProviderError as exc:
                errors.append(exc)
    finally:
        await model.aclose()
    assert server.requests[0].headers["authorization"] == f"Bearer {SECRET}"  # the key did travel
    assert len(errors) == 2
    assert caplog.records, "debug logging was captured"
    for record in caplog.records:
        assert SECRET not in record.getMessage()
    for error in errors:
        assert SECRET not in str(error) and SECRET not in " ".join(getattr(error, "__notes__", []))


async def test_factory_builds_each_kind(server: ScriptedModelServer) -> None:
    built = [
        build_provider("a", model_config("openai", server)),
        build_provider("b", model_config("anthropic", server)),
        build_provider("c", ModelConfig(provider="local", location="local")),
    ]
    try:
        assert [type(p) for p in built] == [OpenAIProvider, AnthropicProvider, LocalModelProvider]
    finally:
        for made in built:
            await made.aclose()
    with pytest.raises(ConfigError, match=r"models\.d\.provider"):
        build_provider("d", ModelConfig.model_construct(provider="carrier-pigeon"))


async def test_anthropic_base_url_may_end_in_v1(server: ScriptedModelServer, sleep: SleepRecorder) -> None:
    model = provider("anthropic", server, sleep, base_url=server.anthropic_base_url + "/v1/")
    try:
        await model.complete(ask("hi"))
    finally:
        await model.aclose()
    assert server.requests[0].path == "/v1/messages"
    assert server.requests[0].body["system"][0]["cache_control"] == {"type": "ephemeral"}
