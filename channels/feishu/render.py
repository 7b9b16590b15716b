"""``Reply`` -> Feishu message payloads: the pure last step of the message path for Feishu, no I/O.

Plain answers go out as ``text``; answers with structure (headings, lists, code, tables) as an interactive card
with one markdown element, which Feishu renders. Long answers are split on paragraph boundaries so every part fits
Feishu's request limits (text 150 KB, card 30 KB); each part gets its own idempotency ``uuid`` derived from the
reply's key, so a retried send of the same reply cannot post twice.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from assistant.messages import Reply

__all__ = [
    "CARD_LIMIT_BYTES",
    "TEXT_LIMIT_BYTES",
    "OutgoingPart",
    "is_structured",
    "part_uuid",
    "render_edit",
    "render_reply",
    "split_text",
]

# Feishu's limits are on the request body; keep a margin for the envelope (receive_id, msg_type, uuid).
TEXT_LIMIT_BYTES = 150 * 1024 - 1024
CARD_LIMIT_BYTES = 30 * 1024 - 1024
UUID_MAX_LEN = 50

_STRUCTURE = re.compile(r"^(#{1,6} |\s*[-*+] |\s*\d+[.)] |```|\|.*\|\s*$|> )", re.MULTILINE)
_FENCE = re.compile(r"^```(\S*)")
_QUOTES = len(json.dumps(json.dumps("")))


@dataclass(frozen=True, slots=True)
class OutgoingPart:
    """One Feishu message: ``msg_type`` plus the ``content`` object (sent as a JSON string) and its uuid."""

    msg_type: str  # "text" | "interactive"
    content: dict[str, Any]
    uuid: str

    def content_json(self) -> str:
        return json.dumps(self.content, ensure_ascii=False)


def is_structured(text: str) -> bool:
    """True when the text is markdown worth a card: a heading, a list, a code fence, a table or a quote."""
    return bool(_STRUCTURE.search(text))


def part_uuid(idempotency_key: str, index: int) -> str:
    """A stable uuid (<= 50 chars) for part ``index`` of a reply: same key and index -> same uuid."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    value = f"{digest}-{index}"
    return value[:UUID_MAX_LEN]


def render_reply(reply: Reply) -> list[OutgoingPart]:
    """All parts of a reply, in order. Mentions lead the first part; the split keeps code fences balanced."""
    structured = is_structured(reply.text)
    mentions = list(zip(reply.mention_user_ids, _names(reply), strict=True))
    if structured:
        lead = " ".join(f"<at id={uid}></at>" for uid, _ in mentions)
        limit = CARD_LIMIT_BYTES
    else:
        lead = " ".join(f'<at user_id="{uid}">{_escape_at(name)}</at>' for uid, name in mentions)
        limit = TEXT_LIMIT_BYTES
    prefix = f"{lead} " if lead else ""
    chunks = split_text(reply.text, limit - _encoded_len(prefix) - 256)
    parts = []
    for index, chunk in enumerate(chunks):
        body = prefix + chunk if index == 0 else chunk
        content = _card(body) if structured else {"text": body}
        parts.append(OutgoingPart("interactive" if structured else "text", content,
                                  part_uuid(reply.idempotency_key, index)))
    return parts


def render_edit(text: str, msg_type: str) -> dict[str, Any]:
    """New content for an edited message of ``msg_type`` (the type cannot change on Feishu)."""
    return _card(text) if msg_type == "interactive" else {"text": text}


def split_text(text: str, limit_bytes: int) -> list[str]:
    """Split into chunks whose JSON-encoded size is at most ``limit_bytes``.

    Paragraphs stay whole where they fit, then lines, then characters. A chunk that ends inside a code fence
    closes it and the next chunk reopens it with the same language, so each part renders on its own.
    """
    if _encoded_len(text) <= limit_bytes:
        return [text]
    budget = max(limit_bytes - 32, 64)  # room for a closing/reopening fence
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in _pieces(text, budget):
        cost = _encoded_len(piece)  # escaping is per character, so sizes add up
        if current and size + cost > budget:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(piece)
        size += cost
    if current:
        chunks.append("".join(current))
    return _balance_fences([c.strip("\n") for c in chunks if c.strip()])


def _pieces(text: str, budget: int) -> list[str]:
    """Paragraphs (with their separator), broken into lines and then characters when one is too big."""
    pieces: list[str] = []
    for paragraph in re.split(r"(?<=\n\n)", text):
        if _encoded_len(paragraph) <= budget:
            pieces.append(paragraph)
            continue
        for line in paragraph.splitlines(keepends=True):
            while _encoded_len(line) > budget:
                cut = _fit(line, budget)
                pieces.append(line[:cut])
                line = line[cut:]
            if line:
                pieces.append(line)
    return pieces


def _fit(line: str, budget: int) -> int:
    """The longest prefix length of ``line`` whose encoding fits ``budget`` (binary search)."""
    low, high = 1, len(line)
    while low < high:
        mid = (low + high + 1) // 2
        if _encoded_len(line[:mid]) <= budget:
            low = mid
        else:
            high = mid - 1
    return low


def _balance_fences(chunks: list[str]) -> list[str]:
    balanced: list[str] = []
    reopen = ""
    for chunk in chunks:
        body = f"{reopen}\n{chunk}" if reopen else chunk
        open_language: str | None = None
        for line in body.splitlines():
            match = _FENCE.match(line.strip())
            if match:
                open_language = None if open_language is not None else match.group(1)
        if open_language is not None:
            body += "\n```"
            reopen = f"```{open_language}"
        else:
            reopen = ""
        balanced.append(body)
    return balanced


def _card(markdown: str) -> dict[str, Any]:
    return {
        "config": {"wide_screen_mode": True, "update_multi": True},
        "elements": [{"tag": "markdown", "content": markdown}],
    }


def _names(reply: Reply) -> list[str]:
    names = list(reply.mention_names[: len(reply.mention_user_ids)])
    return names + [""] * (len(reply.mention_user_ids) - len(names))


def _escape_at(name: str) -> str:
    return name.replace("<", "").replace(">", "")


def _encoded_len(text: str) -> int:
    """Bytes the text takes inside the request: JSON-escaped twice (content is a JSON string in a JSON body).

    The quotes are left out so that lengths of pieces add up to the length of their concatenation.
    """
    return len(json.dumps(json.dumps(text, ensure_ascii=False), ensure_ascii=False).encode("utf-8")) - _QUOTES
