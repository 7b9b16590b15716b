"""Reply -> Telegram parts: splitting within 4,096 units, escaping that Telegram's own parsing accepts."""

from __future__ import annotations

import re
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.messages import Reply
from channels.telegram import TEXT_LIMIT, render_edit, render_reply, split_text
from channels.telegram.render import ParseModeName
from tests.standins.telegram_markup import parse_html, parse_markdown_v2, utf16_units

WHITESPACE = re.compile(r"\s")
TOKENS = [*"ab c\n<>&\"'_*[]()~`>#+-=|{}.!\\é中😀", "👋🏽", "**", "```", "```py\n", "\n\n", "word "]
TEXTS = st.lists(st.sampled_from(TOKENS), max_size=150).map("".join)
MARKERS = re.compile(r"[\s*`#]")


def reply(text: str, **extra: Any) -> Reply:
    return Reply(channel="telegram", chat_id="-100", text=text, idempotency_key="k1", **extra)


def squeeze(text: str) -> str:
    return WHITESPACE.sub("", text)


def test_short_reply_is_one_html_part() -> None:
    [part] = render_reply(reply("Build **green** on `main`"))
    assert part.parse_mode == "HTML"
    assert part.text == "Build <b>green</b> on <code>main</code>"
    assert part.plain == "Build green on main"


def test_html_from_the_model_is_escaped_not_injected() -> None:
    [part] = render_reply(reply('<a href="http://evil">click</a> & <b>not bold</b>'))
    assert parse_html(part.text) == '<a href="http://evil">click</a> & <b>not bold</b>'
    assert "<a" not in part.text and "&lt;a href" in part.text


def test_code_block_becomes_pre_with_language() -> None:
    [part] = render_reply(reply("Run:\n```bash\nmake test && echo <ok>\n```\ndone"))
    assert part.text == 'Run:\n<pre><code class="language-bash">make test &amp;&amp; echo &lt;ok&gt;</code></pre>\ndone'
    assert parse_html(part.text) == "Run:\nmake test && echo <ok>\ndone"


def test_heading_is_bold() -> None:
    [part] = render_reply(reply("## Summary\nall good"))
    assert part.text == "<b>Summary</b>\nall good"


def test_markdown_v2_escapes_every_reserved_character() -> None:
    text = "1+1=2. (a) [b] _c_ ~d~ |e| {f} !g -h #i >j \\k"
    [part] = render_reply(reply(text), "MarkdownV2")
    assert part.parse_mode == "MarkdownV2"
    assert part.text == r"1\+1\=2\. \(a\) \[b\] \_c\_ \~d\~ \|e\| \{f\} \!g \-h \#i \>j \\k"
    assert parse_markdown_v2(part.text) == text


def test_markdown_v2_formatting() -> None:
    [part] = render_reply(reply("**v2.4.1** ships `a_b` now\n```py\nx = f(1) * 2\n```"), "MarkdownV2")
    assert part.text == "*v2\\.4\\.1* ships `a_b` now\n```py\nx = f(1) * 2\n```"
    assert parse_markdown_v2(part.text) == "v2.4.1 ships a_b now\nx = f(1) * 2"


def test_parse_mode_none_sends_text_untouched() -> None:
    [part] = render_reply(reply("**as is** <b>"), "none")
    assert part.parse_mode is None and part.text == "**as is** <b>"


def test_mentions_open_the_first_part_as_user_links() -> None:
    parts = render_reply(reply("done", mention_user_ids=("4201", "4202"), mention_names=("Alice", "Bob <B>")))
    assert parts[0].text == '<a href="tg://user?id=4201">Alice</a> <a href="tg://user?id=4202">Bob &lt;B&gt;</a>\ndone'
    assert parse_html(parts[0].text) == "Alice Bob <B>\ndone"
    [v2] = render_reply(reply("done", mention_user_ids=("4201",), mention_names=("A.",)), "MarkdownV2")
    assert v2.text == "[A\\.](tg://user?id=4201)\ndone"
    assert parse_markdown_v2(v2.text) == "A.\ndone"


def test_split_prefers_paragraphs_then_lines() -> None:
    para = "word " * 700  # 3,500 chars
    text = f"{para.strip()}\n\n{para.strip()}\n\nend"
    parts = split_text(text)
    assert [len(p) for p in parts] == [len(para.strip()), len(para.strip()) + 5]
    lines = "\n".join(["x" * 100] * 50)  # 5,049 chars, no paragraph break
    parts = split_text(lines)
    assert len(parts) == 2 and all(p.endswith("x") and p.startswith("x") for p in parts)
    assert utf16_units(parts[0]) <= TEXT_LIMIT


def test_split_hard_cuts_a_single_huge_word_without_breaking_emoji() -> None:
    text = "😀" * 3000  # 6,000 UTF-16 units
    parts = split_text(text)
    assert [utf16_units(p) for p in parts] == [4096, 1904]
    assert "".join(parts) == text


def test_code_block_cut_in_two_is_closed_and_reopened() -> None:
    code = "\n".join(f"line {i} <tag>" for i in range(600))  # ~8,000 chars
    parts = render_reply(reply(f"Log:\n```text\n{code}\n```\nThat is all."))
    assert len(parts) >= 2
    for part in parts:
        shown = parse_html(part.text)  # every part is well-formed HTML on its own
        assert utf16_units(shown) <= TEXT_LIMIT
    assert parts[1].text.startswith('<pre><code class="language-text">line')
    assert squeeze("".join(parse_html(p.text) for p in parts)) == squeeze(f"Log:{code}That is all.")


def test_edit_is_cut_to_one_message() -> None:
    part = render_edit("a" * 5000)
    assert len(parse_html(part.text)) == TEXT_LIMIT and part.text.endswith("…")


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.integers(min_value=8, max_value=60))
def test_split_property_parts_fit_and_keep_all_text(text: str, limit: int) -> None:
    parts = split_text(text, limit)
    assert all(0 < utf16_units(p) <= limit and p.strip() for p in parts)
    assert squeeze("".join(parts)) == squeeze(text)


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.integers(min_value=12, max_value=80), st.sampled_from(["HTML", "MarkdownV2"]))
def test_render_property_telegram_accepts_every_part(text: str, limit: int, mode: str) -> None:
    parse = parse_html if mode == "HTML" else parse_markdown_v2
    parts = render_reply(reply(text), cast(ParseModeName, mode), limit=limit)
    shown = []
    for part in parts:
        visible = parse(part.text)  # raises like Telegram's "can't parse entities"
        assert visible == part.plain
        assert 0 < utf16_units(visible) <= limit
        shown.append(visible)
    source = MARKERS.sub("", text)
    kept = MARKERS.sub("", "".join(shown))
    # Markup markers and code-fence language names may go; every other character stays, in order.
    iterator = iter(source)
    assert all(ch in iterator for ch in kept)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="*`#"), max_size=300),
       st.integers(min_value=8, max_value=60), st.sampled_from(["HTML", "MarkdownV2", "none"]))
def test_render_property_text_without_markers_survives_exactly(text: str, limit: int, mode: str) -> None:
    parts = render_reply(reply(text), cast(ParseModeName, mode), limit=limit)
    assert all(utf16_units(p.plain) <= limit for p in parts)
    assert squeeze("".join(p.plain for p in parts)) == squeeze(text)
    if mode == "HTML":
        assert squeeze("".join(parse_html(p.text) for p in parts)) == squeeze(text)
    elif mode == "MarkdownV2":
        assert squeeze("".join(parse_markdown_v2(p.text) for p in parts)) == squeeze(text)
