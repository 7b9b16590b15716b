"""The heartbeat's model request: a small, isolated context (the findings only, never the chat history)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.providers.base import ChatMessage, ModelRequest

__all__ = ["NOTHING_TO_REPORT", "heartbeat_request", "is_nothing"]

NOTHING_TO_REPORT = "NOTHING"
_NOTHING = re.compile(
    r"^\W*(nothing(\s+(to\s+report|worth\s+(saying|reporting)))?|none|no\s+updates?|all\s+clear|heartbeat[_\s]ok"
    r"|n/?a|无|没有|暂无|无事|没什么|没有需要提醒的(事)?)\W*$", re.I)

_SYSTEM = (
    "You are the team assistant checking in on {name} on your own initiative. Below are things a routine check "
    "found. If one of them is worth a short, friendly nudge now, write that message to {name} (two or three "
    "sentences, in the language the items are written in). If none is worth interrupting them for, answer "
    f"exactly {NOTHING_TO_REPORT}."
)


def heartbeat_request(member_name: str, findings: Sequence[str], *, max_tokens: int = 200) -> ModelRequest:
    """For the daemon's ``heartbeat_turn``: send with role "heartbeat" and private=True (it prefers the local
    model: the findings quote other people's messages)."""
    items = "\n".join(f"- {f}" for f in findings)
    return ModelRequest(
        messages=(ChatMessage("system", _SYSTEM.format(name=member_name or "the member")),
                  ChatMessage("user", items, private=True)),
        max_tokens=max_tokens, temperature=0.2,
    )


def is_nothing(answer: str | None) -> bool:
    """An answer that means "nothing to report" (empty, NOTHING, 无 ...) is dropped, not sent."""
    return answer is None or not answer.strip() or bool(_NOTHING.match(answer.strip()))
