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

__all__ = ["ChatMessage", "ModelProvider", "ModelRequest", "ModelResponse", "ToolCall", "ToolSpec", "Usage"]
