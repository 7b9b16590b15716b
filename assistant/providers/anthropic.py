"""Anthropic Messages API over httpx: system prompt on top, tool_use / tool_result content blocks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import httpx

from assistant.config import ModelConfig
from assistant.errors import ProviderError, ProviderUnavailable
from assistant.providers.base import ChatMessage, ModelRequest, ModelResponse, ToolCall, Usage
from assistant.providers.endpoint import JsonEndpoint
from assistant.providers.retry import Sleep

__all__ = ["ANTHROPIC_VERSION", "AnthropicProvider"]

ANTHROPIC_VERSION = "2023-06-01"
# A JSON-schema answer is a forced call of this tool: it works on every Claude model.
JSON_ANSWER_TOOL = "json_answer"
_STOP_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def _messages_url(base_url: str) -> str:
    root = base_url.rstrip("/")
    return root + ("/messages" if root.endswith("/v1") else "/v1/messages")


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        value = None
    # tool_use.input must be an object; a malformed call goes back as raw text so the model sees its mistake.
    return value if isinstance(value, dict) else {"unparsed_arguments": arguments}


def _blocks(msg: ChatMessage) -> list[dict[str, Any]]:
    if msg.role == "tool":
        return [{"type": "tool_result", "tool_use_id": msg.tool_call_id or "", "content": msg.content}]
    blocks: list[dict[str, Any]] = []
    if msg.content:
        text = msg.content if msg.role != "system" else f"[system note] {msg.content}"
        blocks.append({"type": "text", "text": text})
    blocks.extend({"type": "image", "source": {"type": "base64", "media_type": p.mime, "data": p.as_base64()}}
                  for p in msg.parts)
    for call in msg.tool_calls if msg.role == "assistant" else ():
        blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input(call.arguments)})
    return blocks


def split_system(messages: tuple[ChatMessage, ...]) -> tuple[str, list[dict[str, Any]]]:
    """Leading system messages become the top-level ``system``; the rest become user/assistant turns.

    Consecutive messages of one role are merged into one turn (tool results of one step share a user turn),
    and a system message later in the conversation is kept in place as a marked user note.
    """
    index = 0
    system_parts: list[str] = []
    while index < len(messages) and messages[index].role == "system":
        system_parts.append(messages[index].content)
        index += 1
    turns: list[dict[str, Any]] = []
    for msg in messages[index:]:
        role = "assistant" if msg.role == "assistant" else "user"
        blocks = _blocks(msg)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return "\n\n".join(p for p in system_parts if p), turns


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    try:
        cached = int(raw.get("cache_read_input_tokens") or 0)
        written = int(raw.get("cache_creation_input_tokens") or 0)
        # Anthropic's input_tokens leaves out cache reads and writes; Usage.input_tokens counts the whole prompt.
        return Usage(
            input_tokens=int(raw.get("input_tokens") or 0) + cached + written,
            output_tokens=int(raw.get("output_tokens") or 0),
            cached_tokens=cached,
        )
    except (TypeError, ValueError):  # counts are bookkeeping: a strange one must not lose the answer
        return Usage()


class AnthropicProvider:
    """One Claude model; ``cfg.base_url`` is the API root (``https://api.anthropic.com``), path /v1/messages.

    Owns one pooled httpx client unless one is passed in (then the caller closes it).
    """

    def __init__(
        self,
        name: str,
        cfg: ModelConfig,
        *,
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = name
        self.cfg = cfg
        headers = {"anthropic-version": ANTHROPIC_VERSION, "Accept": "application/json"}
        key = cfg.key()
        if key:
            headers["x-api-key"] = key
        self._endpoint = JsonEndpoint(
            label=f"model {name!r}",
            config_key=f"models.{name}",
            url=_messages_url(cfg.base_url),
            headers=headers,
            timeout_s=cfg.timeout_s,
            max_retries=cfg.max_retries,
            client=client,
            sleep=sleep,
        )

    def body(self, request: ModelRequest, *, stream: bool = False) -> dict[str, Any]:
        """The JSON body for ``request``; key order is fixed so the prompt prefix stays byte-stable."""
        system, turns = split_system(request.messages)
        body: dict[str, Any] = {
            "model": self.cfg.model,
            "max_tokens": request.max_tokens or self.cfg.max_output_tokens,
        }
        tools = [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools]
        if request.json_schema is not None:
            # The schema answer is the only tool on offer, so the model cannot wander off into another call.
            tools = [
                {
                    "name": JSON_ANSWER_TOOL,
                    "description": "Give the answer in the required JSON shape.",
                    "input_schema": request.json_schema,
                }
            ]
            body["tool_choice"] = {"type": "tool", "name": JSON_ANSWER_TOOL}
        if tools:
            body["tools"] = tools
        if system:
            # One cache breakpoint after tools + system: the part of the prompt every turn repeats.
            body["system"] = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
        body["messages"] = turns
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if stream:
            body["stream"] = True
        return body

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self._endpoint.post(self.body(request), lambda data: self._response(data, request))

    def _response(self, data: dict[str, Any], request: ModelRequest) -> ModelResponse:
        content = data.get("content")
        if not isinstance(content, list):
            raise ProviderUnavailable(f"model {self.name!r} answered without a content list")
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text":
                texts.append(str(block.get("text", "")))
            elif block.get("type") == "tool_use":
                raw = block.get("input")
                arguments = raw if isinstance(raw, str) else json.dumps(raw if raw is not None else {})
                if request.json_schema is not None and block.get("name") == JSON_ANSWER_TOOL:
                    texts.append(arguments)
                    continue
                calls.append(
                    ToolCall(id=str(block.get("id", "")), name=str(block.get("name", "")), arguments=arguments)
                )
        stop = str(data.get("stop_reason") or "end_turn")
        return ModelResponse(
            text="".join(texts),
            tool_calls=tuple(calls),
            usage=_usage(data.get("usage")),
            finish_reason="tool_calls" if calls else ("stop" if stop == "tool_use" else _STOP_REASONS.get(stop, stop)),
            model=str(data.get("model") or self.cfg.model),
        )

    async def stream(self, request: ModelRequest) -> AsyncGenerator[str, None]:
        """Text deltas of the answer. Tool calls and schema answers go through ``complete``."""
        if request.tools or request.json_schema is not None:
            raise ProviderError(
                "stream() carries text only: call complete() when the request offers tools or a JSON schema"
            )
        async with aclosing(self._endpoint.stream(self.body(request, stream=True))) as events:
            async for event in events:
                if event.get("type") == "content_block_delta":
                    delta = event.get("delta") or {}
                    if delta.get("type") == "text_delta" and delta.get("text"):
                        yield str(delta["text"])
                elif event.get("type") == "message_stop":
                    return

    async def aclose(self) -> None:
        await self._endpoint.aclose()
