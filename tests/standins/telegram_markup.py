"""Telegram's side of message markup, for the stand-in Bot API: parse HTML / MarkdownV2 as strictly as Telegram.

Each parser returns the visible text (what a member sees) or raises ``EntityParseError`` with Telegram's wording
("can't parse entities: ..."), so a renderer that forgets to escape fails against the stand-in as it would live.
Written from the Bot API's "Formatting options", independently of the code under test.
"""

from __future__ import annotations

import html
import re

__all__ = ["EntityParseError", "parse_html", "parse_markdown_v2", "utf16_units", "visible_text"]

_HTML_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
    "blockquote", "tg-emoji",
}
_HTML_TOKEN = re.compile(r"<(?P<close>/?)(?P<tag>[a-zA-Z][a-zA-Z0-9-]*)(?P<attrs>[^<>]*)>|&(?P<entity>[^;\s<>&]*);?")
_HTML_ENTITIES = re.compile(r"lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+")
_MD_RESERVED = set("_*[]()~`>#+-=|{}.!")


class EntityParseError(ValueError):
    """Telegram's 400 "Bad Request: can't parse entities: ..."."""


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def visible_text(text: str, parse_mode: str | None) -> str:
    if parse_mode is None or parse_mode == "":
        return text
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    raise EntityParseError(f"unsupported parse_mode {parse_mode!r}")


def parse_html(text: str) -> str:
    visible: list[str] = []
    stack: list[str] = []
    position = 0
    for token in _HTML_TOKEN.finditer(text):
        _plain_html(text[position : token.start()], position, visible)
        position = token.end()
        if token.group("entity") is not None:
            name = token.group("entity")
            if not token.group(0).endswith(";") or not _HTML_ENTITIES.fullmatch(name):
                raise EntityParseError(
                    f"can't parse entities: unsupported entity '&{name}' at byte offset {token.start()}"
                )
            visible.append(html.unescape(f"&{name};"))
            continue
        tag = token.group("tag").lower()
        if tag not in _HTML_TAGS:
            raise EntityParseError(
                f'can\'t parse entities: Unsupported start tag "{tag}" at byte offset {token.start()}'
            )
        if token.group("close"):
            if not stack or stack[-1] != tag:
                raise EntityParseError(f'can\'t parse entities: Unmatched end tag at byte offset {token.start()}, '
                                       f'expected "</{stack[-1] if stack else ""}>", found "</{tag}>"')
            stack.pop()
            continue
        _check_attributes(tag, token.group("attrs"), token.start())
        stack.append(tag)
    _plain_html(text[position:], position, visible)
    if stack:
        raise EntityParseError(f'can\'t parse entities: Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(visible)


def _plain_html(chunk: str, offset: int, visible: list[str]) -> None:
    for index, ch in enumerate(chunk):
        if ch in "<>&":
            raise EntityParseError(f"can't parse entities: unescaped {ch!r} at byte offset {offset + index}")
    visible.append(chunk)


def _check_attributes(tag: str, attrs: str, offset: int) -> None:
    attrs = attrs.strip()
    if tag == "a" and not re.fullmatch(r'href="[^"]+"', attrs):
        raise EntityParseError(f"can't parse entities: <a> needs one href attribute at byte offset {offset}")
    if tag == "code" and attrs and not re.fullmatch(r'class="language-[^"]+"', attrs):
        raise EntityParseError(f"can't parse entities: unsupported attribute of <code> at byte offset {offset}")
    if tag == "span" and attrs != 'class="tg-spoiler"':
        raise EntityParseError(f"can't parse entities: <span> needs class=\"tg-spoiler\" at byte offset {offset}")
    if tag not in ("a", "code", "span", "tg-emoji", "blockquote") and attrs:
        raise EntityParseError(f"can't parse entities: unexpected attributes on <{tag}> at byte offset {offset}")


def parse_markdown_v2(text: str) -> str:
    visible: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n or not 1 <= ord(text[i + 1]) <= 126:
                raise EntityParseError(f"can't parse entities: bad escape at byte offset {i}")
            visible.append(text[i + 1])
            i += 2
            continue
        if text.startswith("```", i):
            end_of_lang = text.find("\n", i + 3)
            body_start = end_of_lang + 1 if end_of_lang != -1 else i + 3
            i = _code_body(text, body_start, "```", visible, i)
            continue
        if ch == "`":
            i = _code_body(text, i + 1, "`", visible, i)
            continue
        marker = "__" if text.startswith("__", i) else "||" if text.startswith("||", i) else ch
        if marker in ("*", "_", "__", "~", "||"):
            if stack and stack[-1][0] == marker:
                stack.pop()
            elif any(open_marker == marker for open_marker, _ in stack):
                raise EntityParseError(f"can't parse entities: entities overlap at byte offset {i}")
            else:
                stack.append((marker, i))
            i += len(marker)
            continue
        if ch == "[":
            stack.append(("[", i))
            i += 1
            continue
        if ch == "]":
            if not stack or stack[-1][0] != "[" or not text.startswith("(", i + 1):
                raise EntityParseError(f"can't parse entities: Character ']' is reserved and must be escaped with "
                                       f"the preceding '\\' at byte offset {i}")
            stack.pop()
            i = _link_url(text, i + 2)
            continue
        if ch == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # blockquote line
            continue
        if ch in _MD_RESERVED:
            raise EntityParseError(f"can't parse entities: Character '{ch}' is reserved and must be escaped with "
                                   f"the preceding '\\'")
        visible.append(ch)
        i += 1
    if stack:
        raise EntityParseError(f"can't parse entities: Can't find end of the entity starting at byte offset "
                               f"{stack[-1][1]}")
    return "".join(visible)


def _code_body(text: str, start: int, fence: str, visible: list[str], opened_at: int) -> int:
    """Read code up to its closing fence; inside, only ` and \\ are (and must be) escaped."""
    i = start
    body: list[str] = []
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            body.append(text[i + 1])
            i += 2
            continue
        if text.startswith(fence, i):
            code = "".join(body)
            visible.append(code.removesuffix("\n") if fence == "```" else code)
            return i + len(fence)
        if text[i] == "`":
            raise EntityParseError(f"can't parse entities: Can't find end of the entity starting at byte offset "
                                   f"{opened_at}")
        body.append(text[i])
        i += 1
    raise EntityParseError(f"can't parse entities: Can't find end of the entity starting at byte offset {opened_at}")


def _link_url(text: str, start: int) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            i += 2
            continue
        if text[i] == ")":
            return i + 1
        i += 1
    raise EntityParseError(f"can't parse entities: Can't find end of a URL at byte offset {start}")
