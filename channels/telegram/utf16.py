"""UTF-16 arithmetic for Telegram text: entity offsets and length limits count UTF-16 code units, not characters."""

from __future__ import annotations

__all__ = ["utf16_len", "utf16_split"]


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP (most emoji) count twice."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def utf16_split(text: str, offset: int, length: int) -> tuple[str, str, str]:
    """Cut ``text`` at an entity's UTF-16 ``offset``/``length``: (before, entity, after).

    An offset that falls inside a surrogate pair (a malformed entity) is rounded up to the next character, so the
    result is always valid text.
    """
    cut_start = _index_of(text, offset)
    cut_end = _index_of(text, offset + length)
    return text[:cut_start], text[cut_start:cut_end], text[cut_end:]


def _index_of(text: str, units: int) -> int:
    """The Python string index at which ``units`` UTF-16 code units have passed."""
    if units <= 0:
        return 0
    seen = 0
    for index, ch in enumerate(text):
        if seen >= units:
            return index
        seen += 2 if ord(ch) > 0xFFFF else 1
    return len(text)
