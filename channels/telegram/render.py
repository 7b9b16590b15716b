"""``Reply`` -> Telegram message parts: light markdown turned into HTML or MarkdownV2, escaped, split. Pure.

Reply text is plain text written by a model. Only three markdown forms become formatting: ``**bold**``,
```` `code` ```` and fenced ```` ``` ```` blocks (plus ``#`` headings, shown bold). Everything else, including
anything that looks like HTML, is escaped, so no markup from a model or a member reaches Telegram unescaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest
from typing import Literal

from telegram.constants import ParseMode
from telegram.helpers import escape_markdown

from assistant.messages import Reply
from channels.telegram.split import TEXT_LIMIT, split_text
from channels.telegram.utf16 import utf16_len

__all__ = ["MessagePart", "ParseModeName", "render_edit", "render_markdown", "render_reply"]

ParseModeName = Literal["HTML", "MarkdownV2", "none"]

_MAX_MENTIONS = 20
_MAX_MENTION_NAME = 64
_FENCE = re.compile(r"```(?:(?P<lang>[\w+#.-]+)?[ \t]*\n)?(?P<code>.*?)```", re.DOTALL)
_FENCE_OPEN = re.compile(r"```(?P<lang>[\w+#.-]*)")
_INLINE = re.compile(
    r"^(?P<hashes>#{1,6})[ \t]+(?P<heading>[^\n]*\S)[ \t]*$"
    r"|`(?P<code>[^`\n]+)`"
    r"|\*\*(?P<bold>[^\s*](?:[^\n]*?[^\s*])?)\*\*",
    re.MULTILINE,
)
_SIMPLE_LANG = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class MessagePart:
    """One Telegram message: ``text`` in ``parse_mode`` (None = plain), and ``plain``, the same words without
    markup, sent instead when Telegram cannot parse the markup."""

    text: str
    parse_mode: str | None
    plain: str


def render_reply(reply: Reply, parse_mode: ParseModeName = "HTML", *, limit: int = TEXT_LIMIT) -> list[MessagePart]:
    """The messages to send for ``reply``, in order; empty when the reply has nothing visible to say.

    Mentions (``reply.mention_user_ids`` with ``mention_names``) open the first part as tg://user links. Each part
    shows at most ``limit`` UTF-16 code units once Telegram has parsed the markup.
    """
    prefix_markup, prefix_plain = _mention_prefix(reply, parse_mode)
    chunks = split_text(reply.text, limit, first_limit=limit - utf16_len(prefix_plain))
    if parse_mode != "none":
        chunks = list(_balance_fences(chunks))
    parts = [render_markdown(chunk, parse_mode) for chunk in chunks]
    parts = [part for part in parts if part.plain.strip()]
    if prefix_plain:
        if not parts:
            return [MessagePart(prefix_markup.rstrip("\n"), _mode(parse_mode), prefix_plain.rstrip("\n"))]
        first = parts[0]
        parts[0] = MessagePart(prefix_markup + first.text, first.parse_mode, prefix_plain + first.plain)
    return parts


def render_edit(text: str, parse_mode: ParseModeName = "HTML", *, limit: int = TEXT_LIMIT) -> MessagePart:
    """One part for editing a message in place (a message cannot grow into two): cut short with an ellipsis."""
    chunks = split_text(text, limit - 1)
    head = chunks[0] if chunks else ""
    if len(chunks) > 1:
        head += "…"
    if parse_mode != "none":
        head = next(_balance_fences([head]), head)
    return render_markdown(head, parse_mode)


def render_markdown(text: str, parse_mode: ParseModeName) -> MessagePart:
    """Light markdown -> markup in ``parse_mode``, with every other character escaped for it."""
    if parse_mode == "none":
        return MessagePart(text, None, text)
    markup: list[str] = []
    plain: list[str] = []
    position = 0
    for fence in _FENCE.finditer(text):
        _inline(text[position : fence.start()], parse_mode, markup, plain)
        code = fence.group("code").removesuffix("\n")
        if code:
            markup.append(_pre(code, fence.group("lang") or "", parse_mode))
            plain.append(code)
        position = fence.end()
    _inline(text[position:], parse_mode, markup, plain)
    return MessagePart("".join(markup), _mode(parse_mode), "".join(plain))


def _inline(text: str, parse_mode: ParseModeName, markup: list[str], plain: list[str]) -> None:
    position = 0
    for match in _INLINE.finditer(text):
        _escaped(text[position : match.start()], parse_mode, markup, plain)
        if match.group("heading") is not None:
            words = match.group("heading").replace("**", "").replace("`", "")
            markup.append(_bold(words, parse_mode))
            plain.append(words)
        elif match.group("code") is not None:
            markup.append(_code(match.group("code"), parse_mode))
            plain.append(match.group("code"))
        else:
            markup.append(_bold(match.group("bold"), parse_mode))
            plain.append(match.group("bold"))
        position = match.end()
    _escaped(text[position:], parse_mode, markup, plain)


def _escaped(text: str, parse_mode: ParseModeName, markup: list[str], plain: list[str]) -> None:
    if text:
        markup.append(_escape(text, parse_mode))
        plain.append(text)


def _escape(text: str, parse_mode: ParseModeName) -> str:
    if parse_mode == "HTML":
        return html.escape(text, quote=False)
    if parse_mode == "MarkdownV2":
        return escape_markdown(text, version=2)
    return text


def _bold(text: str, parse_mode: ParseModeName) -> str:
    if parse_mode == "HTML":
        return f"<b>{html.escape(text, quote=False)}</b>"
    return f"*{escape_markdown(text, version=2)}*"


def _code(text: str, parse_mode: ParseModeName) -> str:
    if parse_mode == "HTML":
        return f"<code>{html.escape(text, quote=False)}</code>"
    return f"`{escape_markdown(text, version=2, entity_type='code')}`"


def _pre(code: str, lang: str, parse_mode: ParseModeName) -> str:
    if parse_mode == "HTML":
        body = html.escape(code, quote=False)
        if lang:
            return f'<pre><code class="language-{html.escape(lang)}">{body}</code></pre>'
        return f"<pre>{body}</pre>"
    label = lang if _SIMPLE_LANG.fullmatch(lang) else ""
    return f"```{label}\n{escape_markdown(code, version=2, entity_type='pre')}\n```"


def _mode(parse_mode: ParseModeName) -> str | None:
    if parse_mode == "HTML":
        return ParseMode.HTML.value
    if parse_mode == "MarkdownV2":
        return ParseMode.MARKDOWN_V2.value
    return None


def _mention_prefix(reply: Reply, parse_mode: ParseModeName) -> tuple[str, str]:
    """(markup, plain) naming the mentioned members, ending in a newline; ("", "") when there are none."""
    markup: list[str] = []
    plain: list[str] = []
    pairs = zip_longest(reply.mention_user_ids, reply.mention_names, fillvalue="")
    for user_id, name in list(pairs)[:_MAX_MENTIONS]:
        shown = (name or user_id).strip()[:_MAX_MENTION_NAME]
        if not shown:
            continue
        plain.append(shown)
        linkable = user_id.isdigit()  # Telegram user ids are positive integers; "@name" cannot be linked by id
        if parse_mode == "HTML":
            escaped = html.escape(shown, quote=False)
            markup.append(f'<a href="tg://user?id={user_id}">{escaped}</a>' if linkable else escaped)
        elif parse_mode == "MarkdownV2":
            escaped = escape_markdown(shown, version=2)
            markup.append(f"[{escaped}](tg://user?id={user_id})" if linkable else escaped)
        else:
            markup.append(shown)
    if not plain:
        return "", ""
    return " ".join(markup) + "\n", " ".join(plain) + "\n"


def _balance_fences(chunks: list[str]) -> Iterator[str]:
    """Close a code block that a cut left open and reopen it in the next part, so both render as code.

    The added fences are markup: they never add visible characters, so each part stays within its limit.
    """
    carried = ""
    for chunk in chunks:
        text = carried + chunk
        carried = ""
        tail_start = 0
        for fence in _FENCE.finditer(text):
            tail_start = fence.end()
        opened = _FENCE_OPEN.search(text, tail_start)
        if opened is not None:
            text += "\n```"
            carried = f"```{opened.group('lang')}\n"
        yield text
