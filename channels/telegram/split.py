"""Cut a long answer into parts that fit one Telegram message: paragraph boundaries first, then lines, words, chars."""

from __future__ import annotations

from channels.telegram.utf16 import utf16_len

__all__ = ["TEXT_LIMIT", "split_text"]

TEXT_LIMIT = 4096  # Bot API: 1-4096 characters after entity parsing; we count UTF-16 code units to be safe
_BOUNDARIES = ("\n\n", "\n", " ")


def split_text(text: str, limit: int = TEXT_LIMIT, *, first_limit: int | None = None) -> list[str]:
    """Parts of ``text``, each at most ``limit`` UTF-16 code units (``first_limit`` for the first one).

    No character other than whitespace at a cut is lost: joining the parts gives back ``text`` up to the
    whitespace where it was cut. Blank parts are dropped, since Telegram refuses an empty message.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2 UTF-16 code units (one emoji)")
    parts: list[str] = []
    rest = text
    while rest:
        budget = limit if parts or first_limit is None else max(2, min(first_limit, limit))
        if utf16_len(rest) <= budget:
            parts.append(rest)
            break
        cut = _cut_point(rest, budget)
        parts.append(rest[:cut])
        rest = rest[cut:]
    trimmed = (part.lstrip("\n").rstrip() for part in parts)
    return [part for part in trimmed if part.strip()]


def _cut_point(text: str, budget: int) -> int:
    """Where to cut ``text`` so the head fits ``budget``: after the last paragraph break, line, or space in it."""
    fits = _fitting_prefix(text, budget)
    window = text[:fits]
    for boundary in _BOUNDARIES:
        position = window.rfind(boundary)
        if position > 0:
            return position + len(boundary)
    return max(fits, 1)


def _fitting_prefix(text: str, budget: int) -> int:
    """The largest index ``i`` with ``utf16_len(text[:i]) <= budget``."""
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > budget:
            return index
    return len(text)
