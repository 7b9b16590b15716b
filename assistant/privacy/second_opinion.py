"""The optional second opinion: ask the local model, with JSON-schema constrained output, whether a text the
deterministic detectors passed still holds personal data. Only ever called through the router's local path."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from assistant.privacy.finding import KIND_LABELS, Finding
from assistant.providers.base import ChatMessage, ModelRequest, ModelResponse

__all__ = ["SECOND_OPINION_SCHEMA", "Ask", "second_opinion"]

log = logging.getLogger(__name__)

# A tiny local model does not follow free-form instructions but obeys a schema: keep the answer a closed shape.
SECOND_OPINION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "personal_data": {"type": "boolean"},
        "kind": {"type": "string", "enum": [*sorted(k for k in KIND_LABELS if k != "model_opinion"), "none"]},
    },
    "required": ["personal_data", "kind"],
    "additionalProperties": False,
}
_MAX_CHARS = 4000
_SYSTEM = (
    "You check chat messages for personal data: phone numbers, ID, passport or bank card numbers, addresses, "
    "e-mail addresses, health, salary, credentials. Names of people alone are not personal data. "
    "Answer with JSON only."
)

Ask = Callable[[ModelRequest], Awaitable[ModelResponse]]


async def second_opinion(ask: Ask, text: str) -> Finding | None:
    """A ``model_opinion`` finding when the model says the text holds personal data, else None.

    ``ask`` must reach a local model only (the router passes its local path). An answer that is not the expected
    JSON counts as "nothing found": the deterministic detectors already ran, and a malformed opinion is no
    evidence either way."""
    request = ModelRequest(
        messages=(ChatMessage("system", _SYSTEM), ChatMessage("user", text[:_MAX_CHARS], private=True)),
        max_tokens=48,
        temperature=0.0,
        json_schema=SECOND_OPINION_SCHEMA,
    )
    response = await ask(request)
    try:
        answer = json.loads(response.text)
    except ValueError:
        log.warning("privacy second opinion: the local model answered no JSON; ignored")
        return None
    if not isinstance(answer, dict) or answer.get("personal_data") is not True:
        return None
    return Finding("model_opinion", 0, 0, 0.6)
