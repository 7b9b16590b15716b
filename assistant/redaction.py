"""Redaction mode: personal data replaced by placeholders before a cloud call, and put back into the answer.

Off by default (``routing.redaction``). Only identifiers that live in a token (phone, e-mail, card, ID, key ...)
can be hidden this way; a request that says something personal in words (health, salary) stays local. The same
value gets the same placeholder everywhere in a request, so the model can still refer to it consistently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from assistant.privacy import REDACTABLE_KINDS, Finding
from assistant.providers.base import ChatMessage, ModelRequest, ModelResponse, ToolCall

__all__ = ["Redaction", "can_redact", "redact", "restore"]

_OPEN, _CLOSE = "⟨", "⟩"
# Models sometimes drop or change the angle brackets; accept "⟨PHONE_1⟩", "<PHONE_1>" and a bare "PHONE_1".
_PLACEHOLDER = re.compile(r"[⟨<]?\b([A-Z_]+_\d+)\b[⟩>]?")


@dataclass(frozen=True, slots=True)
class Redaction:
    """The request as it may leave, and the table to put the originals back (placeholder -> original)."""

    request: ModelRequest
    originals: dict[str, str]
    kinds: tuple[str, ...]


def can_redact(findings: Sequence[Finding]) -> bool:
    """Whether placeholders can hide every finding (no health, salary or other statements among them)."""
    return bool(findings) and all(f.kind in REDACTABLE_KINDS for f in findings)


def _replace_spans(text: str, findings: Sequence[Finding], placeholder: Callable[[Finding, str], str]) -> str:
    out: list[str] = []
    last = 0
    for f in sorted(findings, key=lambda f: f.start):
        if f.start < last:
            continue
        out.append(text[last:f.start])
        out.append(placeholder(f, text[f.start:f.end]))
        last = f.end
    out.append(text[last:])
    return "".join(out)


def redact(request: ModelRequest, scan: Callable[[str], tuple[Finding, ...]]) -> Redaction:
    """Replace every redactable finding in message contents and tool-call arguments by a placeholder."""
    originals: dict[str, str] = {}
    by_value: dict[str, str] = {}
    counters: dict[str, int] = {}
    kinds: set[str] = set()

    def placeholder(f: Finding, value: str) -> str:
        if value not in by_value:
            counters[f.kind] = counters.get(f.kind, 0) + 1
            name = f"{f.kind.upper()}_{counters[f.kind]}"
            by_value[value] = name
            originals[name] = value
        kinds.add(f.kind)
        return f"{_OPEN}{by_value[value]}{_CLOSE}"

    def clean(text: str) -> str:
        findings = [f for f in scan(text) if f.kind in REDACTABLE_KINDS]
        return _replace_spans(text, findings, placeholder) if findings else text

    messages: list[ChatMessage] = []
    for message in request.messages:
        calls = tuple(replace(c, arguments=clean(c.arguments)) for c in message.tool_calls)
        messages.append(replace(message, content=clean(message.content), tool_calls=calls))
    return Redaction(replace(request, messages=tuple(messages)), originals, tuple(sorted(kinds)))


def _restore_text(text: str, originals: dict[str, str], escape: Callable[[str], str]) -> str:
    if not originals or not text:
        return text

    def put_back(m: re.Match[str]) -> str:
        original = originals.get(m.group(1))
        return m.group(0) if original is None else escape(original)

    return _PLACEHOLDER.sub(put_back, text)


def _json_escape(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]


def restore(response: ModelResponse, originals: dict[str, str]) -> ModelResponse:
    """The answer with every placeholder replaced by its original (JSON-escaped inside tool-call arguments)."""
    calls = tuple(
        ToolCall(c.id, c.name, _restore_text(c.arguments, originals, _json_escape)) for c in response.tool_calls
    )
    return replace(response, text=_restore_text(response.text, originals, lambda v: v), tool_calls=calls)
