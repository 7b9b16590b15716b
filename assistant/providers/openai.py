"""OpenAI Chat Completions over httpx: the wire format of OpenAI, DeepSeek, vLLM, Ollama and llama.cpp."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import httpx

from assistant.config import ModelConfig
from assistant.errors import ProviderError, ProviderUnavailable
from assistant.providers.base import ChatMessage, ModelRequest, ModelResponse, ToolCall, ToolSpec, Usage
from assistant.providers.endpoint import JsonEndpoint
from assistant.providers.retry import Sleep

__all__ = ["OpenAIProvider"]

# OpenAI rejects a message `name` outside this pattern; other names are left out rather than sent and refused.
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FINISH_REASONS = {"tool_calls": "tool_calls", "function_call": "tool_calls", "length": "length"}


def _message(msg: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": msg.role, "content": _content(msg) if msg.parts else msg.content}
    if msg.role == "assistant" and msg.tool_calls:
        out["content"] = msg.content or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in msg.tool_calls
        ]
    if msg.role == "tool":
        out["tool_call_id"] = msg.tool_call_id or ""
    elif msg.name and _NAME_PATTERN.match(msg.name):
        out["name"] = msg.name
    return out


def _content(msg: ChatMessage) -> list[dict[str, Any]]:
    """Text then images, as content parts (images as data URLs: nothing is fetched from elsewhere)."""
    parts: list[dict[str, Any]] = [{"type": "text", "text": msg.content}] if msg.content else []
    parts.extend({"type": "image_url", "image_url": {"url": f"data:{p.mime};base64,{p.as_base64()}"}}
                 for p in msg.parts)
    return parts


def _tool(spec: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": spec.name, "description": spec.description, "parameters": spec.parameters},
    }


def _tool_call(raw: dict[str, Any], index: int) -> ToolCall:
    function = raw.get("function") or {}
    arguments = function.get("arguments")
    if not isinstance(arguments, str):  # some compatible servers send an object; keep the contract "raw JSON text"
        arguments = json.dumps(arguments if arguments is not None else {})
    return ToolCall(id=str(raw.get("id") or f"call_{index}"), name=str(function.get("name", "")), arguments=arguments)


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    details = raw.get("prompt_tokens_details") or {}
    try:
        return Usage(
            input_tokens=int(raw.get("prompt_tokens") or 0),
            output_tokens=int(raw.get("completion_tokens") or 0),
            cached_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
        )
    except (TypeError, ValueError):  # counts are bookkeeping: a strange one must not lose the answer
        return Usage()


class OpenAIProvider:
    """One OpenAI-compatible model at ``cfg.base_url`` (the API root, e.g. ``https://api.openai.com/v1``).

    Owns one pooled httpx client unless one is passed in (then the caller closes it). ``sleep`` is what
    retries wait with; tests pass a recorder.
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
        headers = {"Accept": "application/json"}
        key = cfg.key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._endpoint = JsonEndpoint(
            label=f"model {name!r}",
            config_key=f"models.{name}",
            url=cfg.base_url.rstrip("/") + "/chat/completions",
            headers=headers,
            timeout_s=cfg.timeout_s,
            max_retries=cfg.max_retries,
            client=client,
            sleep=sleep,
        )

    def body(self, request: ModelRequest, *, stream: bool = False) -> dict[str, Any]:
        """The JSON body for ``request``; key order is fixed so the prompt prefix stays byte-stable."""
        body: dict[str, Any] = {"model": self.cfg.model}
        if request.tools:
            body["tools"] = [_tool(t) for t in request.tools]
        body["messages"] = [_message(m) for m in request.messages]
        body["max_tokens"] = request.max_tokens or self.cfg.max_output_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": request.json_schema},
            }
        if stream:
            body["stream"] = True
        return body

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self._endpoint.post(self.body(request), self._response)

    def _response(self, data: dict[str, Any]) -> ModelResponse:
        try:
            choice = data["choices"][0]
            message = choice["message"]
            calls = tuple(_tool_call(c, i) for i, c in enumerate(message.get("tool_calls") or ()))
            finish = str(choice.get("finish_reason") or "stop")
            return ModelResponse(
                text=message.get("content") or "",
                tool_calls=calls,
                usage=_usage(data.get("usage")),
                finish_reason="tool_calls" if calls else _FINISH_REASONS.get(finish, finish),
                model=str(data.get("model") or self.cfg.model),
            )
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise ProviderUnavailable(f"model {self.name!r} answered in an unexpected shape ({exc!r})") from exc

    async def stream(self, request: ModelRequest) -> AsyncGenerator[str, None]:
        """Text deltas of the answer. Tool calls cannot be streamed here: offer tools through ``complete``."""
        if request.tools:
            raise ProviderError("stream() does not carry tool calls: call complete() when the request offers tools")
        async with aclosing(self._endpoint.stream(self.body(request, stream=True))) as events:
            async for event in events:
                for choice in event.get("choices") or ():
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        yield piece

    async def aclose(self) -> None:
        await self._endpoint.aclose()
