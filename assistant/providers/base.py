"""The provider seam: ``complete(request)`` and ``stream(request)`` over neutral message values."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "ChatMessage",
    "ImagePart",
    "ModelProvider",
    "ModelRequest",
    "ModelResponse",
    "ToolCall",
    "ToolSpec",
    "Usage",
]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # raw JSON text as the model wrote it; parsed (and possibly rejected) by the tool registry


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image that goes with a message's text (a photo a member sent, a frame of their video), as bytes.

    Providers render it in their own wire format (OpenAI ``image_url`` data URL, Anthropic ``image`` block); a
    model without the vision ability never receives it (the router leaves it out)."""

    mime: str  # image/jpeg, image/png, image/gif or image/webp
    data: bytes = field(repr=False)

    def as_base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    # Marked private by whoever put it in the context (private memory, a private tool result): the router keeps
    # any request containing it on a local model.
    private: bool = False
    # Images that go with ``content`` (user messages only). Empty for text: such a message is sent exactly as a
    # text-only message always was, so prompt caches keep hitting.
    parts: tuple[ImagePart, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelRequest:
    messages: tuple[ChatMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    max_tokens: int | None = None
    temperature: float | None = None
    # A JSON schema the answer must follow (OpenAI response_format json_schema / llama.cpp grammar).
    json_schema: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ModelResponse:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    model: str = ""


class ModelProvider(Protocol):
    """One model endpoint. ``complete`` raises only ``ProviderError`` subclasses; it retries transient failures
    itself (429 honouring Retry-After, 5xx, connection errors) and never retries 401/403. The owner calls
    ``aclose`` once."""

    async def complete(self, request: ModelRequest) -> ModelResponse: ...

    def stream(self, request: ModelRequest) -> AsyncIterator[str]: ...

    async def aclose(self) -> None: ...
