"""Model providers: one wire format each (OpenAI-compatible, Anthropic Messages, in-process local model).

Providers know nothing of privacy, members or budgets; the router is their only caller.
"""

from __future__ import annotations

from assistant.providers.base import (
    ChatMessage,
    ModelProvider,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolSpec,
    Usage,
)
from assistant.providers.factory import build_provider
from assistant.providers.retry import with_retries

__all__ = [
    "ChatMessage",
    "ModelProvider",
    "ModelRequest",
    "ModelResponse",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "build_provider",
    "with_retries",
]
