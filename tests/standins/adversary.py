"""An adversarial team for isolation tests: Alice's private world, Mallory's prompts, and a model that obeys Mallory.

``AdversarialModel`` is a responder for ``ScriptedModelServer``: for the prompt being played it calls the tools the
attacker asked for (with the attacker's arguments, whether or not the tool was offered), and once tool results are
in, it answers with everything it was shown (system prompt, the member's message with its memory block, the tool
results). Whatever reaches the model for Mallory's turn therefore reaches Mallory's chat too: a leak anywhere on
the way shows up at the channel and in the recorded requests.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.standins.model_server import ScriptedReply, ScriptedToolCall

__all__ = ["AdversarialModel", "AttackPrompt", "load_prompts"]

PROMPTS_FILE = Path(__file__).resolve().parent.parent / "data" / "adversarial_prompts.jsonl"
DUMP_PREFIX = "Here is everything I was given:"


@dataclass(frozen=True, slots=True)
class AttackPrompt:
    id: str
    lang: str
    where: str  # "dm" (Mallory's direct chat) or "group" (the team group, addressed to the bot)
    vector: str  # chat | delegation | tool | skill | schedule | usage
    text: str
    calls: tuple[tuple[str, dict[str, Any]], ...] = ()


def _fill(value: Any, names: dict[str, Any]) -> Any:
    """Put the run's ids into a prompt: "{alice_job}" alone becomes the number, inside text its digits."""
    if isinstance(value, str):
        for key, real in names.items():
            if value == "{" + key + "}":
                return real
            value = value.replace("{" + key + "}", str(real))
        return value
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


def load_prompts(names: dict[str, Any], path: Path = PROMPTS_FILE) -> list[AttackPrompt]:
    prompts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        calls = tuple((c["tool"], _fill(c["args"], names)) for c in raw.get("calls", ()))
        prompts.append(AttackPrompt(raw["id"], raw["lang"], raw["where"], raw["vector"],
                                    _fill(raw["text"], names), calls))
    return prompts


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)


@dataclass
class AdversarialModel:
    """Set ``current`` before each prompt; the stand-in calls this from its handler threads."""

    current: AttackPrompt | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def play(self, prompt: AttackPrompt | None) -> None:
        with self._lock:
            self.current = prompt

    def __call__(self, body: dict[str, Any]) -> ScriptedReply | str:
        with self._lock:
            prompt = self.current
        messages = [m for m in body.get("messages") or () if isinstance(m, dict)]
        last = messages[-1] if messages else {}
        if body.get("tools") and last.get("role") == "user" and prompt is not None and prompt.calls:
            return ScriptedReply(tool_calls=tuple(ScriptedToolCall(name, args) for name, args in prompt.calls))
        # Everything since (and including) the last user message, plus the system prompt: what this turn saw.
        start = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=0)
        shown = [m for m in messages[:1] if m.get("role") == "system"] + messages[start:]
        return DUMP_PREFIX + "\n" + "\n".join(_text_of(m) for m in shown)
