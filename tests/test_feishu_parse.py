"""Feishu parse and render on captured-shape payloads: pure functions, no network."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import channels.feishu as feishu_pkg
from assistant.messages import ChatKind, Reply
from channels.feishu import is_structured, parse_event, part_uuid, render_reply, split_text
from channels.feishu.pace import ChatPacer
from channels.feishu.render import CARD_LIMIT_BYTES, TEXT_LIMIT_BYTES
from tests.standins.feishu_server import FeishuPusher

BOT = "ou_bot"
PUSHER = FeishuPusher("http://127.0.0.1:1/unused", "k", "t")


def _never(_: str) -> bool:
    return False


def _event(**kwargs: Any) -> dict[str, Any]:
    return PUSHER.message_event(chat_id=kwargs.pop("chat_id", "oc_team"), sender=kwargs.pop("sender", "ou_alice"),
                                **kwargs)


def test_group_text_mentioning_the_bot_is_addressed_and_mentions_resolve() -> None:
    body = _event(text="@_user_1 ask @_user_2 about the release", mentions=[(BOT, "teamclaw"), ("ou_bob", "Bob")],
                  message_id="om_1", event_id="ev_1")
    msg = parse_event(body, bot_open_id=BOT, sent_by_bot=_never)
    assert msg is not None
    assert msg.text == "ask @Bob about the release"
    assert msg.addressed and msg.chat_kind is ChatKind.GROUP
    assert (msg.chat_id, msg.sender_id, msg.platform_message_id, msg.event_id) == ("oc_team", "ou_alice", "om_1",
                                                                                   "ev_1")
    assert [(m.platform_user_id, m.is_bot) for m in msg.mentions] == [(BOT, True), ("ou_bob", False)]


def test_group_text_without_the_bot_is_kept_but_not_addressed() -> None:
    msg = parse_event(_event(text="lunch? @_user_1", mentions=[("ou_bob", "Bob")]), bot_open_id=BOT,
                      sent_by_bot=_never)
    assert msg is not None and not msg.addressed
    assert msg.text == "lunch? @Bob"


def test_placeholder_ten_is_not_mistaken_for_placeholder_one() -> None:
    mentions = [(f"ou_{i}", f"P{i}") for i in range(1, 11)]
    msg = parse_event(_event(text="@_user_10 and @_user_1", mentions=mentions), bot_open_id=BOT, sent_by_bot=_never)
    assert msg is not None and msg.text == "@P10 and @P1"


def test_reply_to_a_bot_message_is_addressed() -> None:
    sent = {"om_bot_answer"}
    by_parent = parse_event(_event(text="and tomorrow?", parent_id="om_bot_answer", root_id="om_q"),
                            bot_open_id=BOT, sent_by_bot=sent.__contains__)
    by_root = parse_event(_event(text="thanks", parent_id="om_other", root_id="om_bot_answer"),
                          bot_open_id=BOT, sent_by_bot=sent.__contains__)
    stranger = parse_event(_event(text="hm", parent_id="om_other"), bot_open_id=BOT, sent_by_bot=sent.__contains__)
    assert by_parent is not None and by_parent.addressed and by_parent.reply_to_message_id == "om_bot_answer"
    assert by_root is not None and by_root.addressed
    assert stranger is not None and not stranger.addressed


def test_direct_chat_is_always_addressed_and_carries_thread_and_time() -> None:
    body = _event(text="hi", chat_type="p2p", chat_id="oc_dm", thread_id="omt_1")
    body["event"]["message"]["create_time"] = "1700000000123"
    msg = parse_event(body, bot_open_id=BOT, sent_by_bot=_never)
    assert msg is not None and msg.chat_kind is ChatKind.DIRECT and msg.addressed
    assert msg.thread_id == "omt_1"
    assert msg.sent_at == datetime.fromtimestamp(1700000000.123, UTC)


def test_post_is_flattened_with_mentions_links_and_code() -> None:
    content = {"title": "Release plan", "content": [
        [{"tag": "at", "user_id": "@_user_1", "user_name": "teamclaw"}, {"tag": "text", "text": " please check "},
         {"tag": "a", "href": "https://example.com/x", "text": "the doc"}],
        [{"tag": "text", "text": "cc "}, {"tag": "at", "user_id": "@_user_2", "user_name": "Bob"}],
        [{"tag": "code_block", "language": "python", "text": "print(1)"}],
        [{"tag": "img", "image_key": "img_1"}],
    ]}
    body = _event(message_type="post", content=content, mentions=[(BOT, "teamclaw"), ("ou_bob", "Bob")])
    msg = parse_event(body, bot_open_id=BOT, sent_by_bot=_never)
    assert msg is not None and msg.addressed
    assert msg.text.splitlines()[:3] == ["Release plan", "please check the doc (https://example.com/x)", "cc @Bob"]
    assert "```python\nprint(1)\n```" in msg.text and "[image]" in msg.text
    assert [(a.kind, a.platform_file_id) for a in msg.attachments] == [("image", "img_1")]  # downloaded like one


def test_locale_wrapped_post_is_unwrapped() -> None:
    content = {"zh_cn": {"title": "标题", "content": [[{"tag": "text", "text": "你好"}]]}}
    msg = parse_event(_event(message_type="post", content=content), bot_open_id=BOT, sent_by_bot=_never)
    assert msg is not None and msg.text == "标题\n你好"


def test_image_file_and_audio_become_attachments() -> None:
    cases = {"image": ({"image_key": "img_v3_1"}, "image", "img_v3_1", None),
             "file": ({"file_key": "file_v3_1", "file_name": "plan.pdf"}, "file", "file_v3_1", "plan.pdf"),
             "audio": ({"file_key": "file_v3_2", "duration": 2000}, "audio", "file_v3_2", None),
             "media": ({"file_key": "file_v3_3", "image_key": "img_v3_thumb", "file_name": "demo.mp4"}, "video",
                       "file_v3_3", "demo.mp4")}
    for message_type, (content, kind, key, name) in cases.items():
        msg = parse_event(_event(message_type=message_type, content=content, chat_type="p2p"), bot_open_id=BOT,
                          sent_by_bot=_never)
        assert msg is not None, message_type
        assert [(a.kind, a.platform_file_id, a.name) for a in msg.attachments] == [(kind, key, name)]


def test_unknown_and_malformed_events_yield_none() -> None:
    other = _event(text="x")
    other["header"]["event_type"] = "im.message.message_read_v1"
    sticker = _event(message_type="sticker", content={"file_key": "f"})
    bad_content = _event(text="x")
    bad_content["event"]["message"]["content"] = "{not json"
    no_message = _event(text="x")
    del no_message["event"]["message"]
    no_sender = _event(text="x")
    no_sender["event"]["sender"] = None
    for body in (other, sticker, bad_content, no_message, no_sender, {}, {"header": None}):
        assert parse_event(body, bot_open_id=BOT, sent_by_bot=_never) is None


def test_app_sender_is_marked_as_bot() -> None:
    body = _event(text="deploy done")
    body["event"]["sender"]["sender_type"] = "app"
    msg = parse_event(body, bot_open_id=BOT, sent_by_bot=_never)
    assert msg is not None and msg.sender_is_bot


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                 max_size=3), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(message=st.dictionaries(st.sampled_from(["message_id", "chat_id", "chat_type", "message_type", "content",
                                                "mentions", "parent_id", "thread_id", "create_time"]), _json))
def test_parse_never_raises_on_arbitrary_messages(message: dict[str, Any]) -> None:
    body = {"header": {"event_type": "im.message.receive_v1"},
            "event": {"sender": {"sender_id": {"open_id": "ou_x"}}, "message": message}}
    parse_event(body, bot_open_id=BOT, sent_by_bot=_never)


# -- render ---------------------------------------------------------------------------------------------------


def _reply(text: str, **kwargs: Any) -> Reply:
    return Reply(channel="feishu", chat_id="oc_team", text=text, idempotency_key=kwargs.pop("key", "reply-1"),
                 **kwargs)


def test_plain_answer_is_text_with_the_member_mentioned() -> None:
    parts = render_reply(_reply("The build is green.", mention_user_ids=("ou_alice",), mention_names=("Alice",)))
    assert len(parts) == 1 and parts[0].msg_type == "text"
    assert parts[0].content == {"text": '<at user_id="ou_alice">Alice</at> The build is green.'}


def test_structured_answer_is_a_markdown_card() -> None:
    text = "## Plan\n- write notes\n- tag release\n\n```sh\nmake release\n```"
    parts = render_reply(_reply(text, mention_user_ids=("ou_alice",), mention_names=("Alice",)))
    assert is_structured(text) and not is_structured("just a sentence. with - dashes")
    assert [p.msg_type for p in parts] == ["interactive"]
    markdown = parts[0].content["elements"][0]
    assert markdown["tag"] == "markdown" and markdown["content"].startswith("<at id=ou_alice></at> ## Plan")


def test_long_answers_split_on_paragraphs_within_limits_with_stable_uuids() -> None:
    paragraphs = [f"Paragraph {i}: " + "word " * 400 for i in range(200)]  # ~400 KB
    parts = render_reply(_reply("\n\n".join(paragraphs)))
    assert len(parts) >= 3 and {p.msg_type for p in parts} == {"text"}
    for part in parts:
        assert len(json.dumps(part.content_json(), ensure_ascii=False).encode()) <= TEXT_LIMIT_BYTES
        assert part.content["text"].startswith("Paragraph ")  # cut between paragraphs, not inside one
    joined = "\n\n".join(p.content["text"] for p in parts)
    assert joined.split() == "\n\n".join(paragraphs).split()
    uuids = [p.uuid for p in parts]
    assert len(set(uuids)) == len(uuids) and all(len(u) <= 50 for u in uuids)
    assert uuids == [p.uuid for p in render_reply(_reply("\n\n".join(paragraphs)))]
    assert uuids != [p.uuid for p in render_reply(_reply("\n\n".join(paragraphs), key="reply-2"))]


def test_card_split_keeps_code_fences_balanced_and_counts_cjk_bytes() -> None:
    code = "\n".join(f"print('行 {i}')" for i in range(3000))
    parts = render_reply(_reply(f"# 代码\n\n```python\n{code}\n```"))
    assert len(parts) >= 3 and {p.msg_type for p in parts} == {"interactive"}
    for part in parts:
        body = part.content["elements"][0]["content"]
        assert body.count("```") % 2 == 0
        assert len(json.dumps(part.content_json(), ensure_ascii=False).encode()) <= CARD_LIMIT_BYTES
    assert parts[1].content["elements"][0]["content"].startswith("```python")


def test_split_cuts_a_single_huge_line() -> None:
    chunks = split_text("x" * 10_000, 1_000)
    assert "".join(chunks) == "x" * 10_000 and all(len(c) <= 1_000 for c in chunks)


def test_part_uuid_is_short_and_stable_for_any_key() -> None:
    key = "outbox:" + "k" * 300
    assert part_uuid(key, 7) == part_uuid(key, 7) and len(part_uuid(key, 999)) <= 50
    assert part_uuid(key, 0) != part_uuid(key, 1)


def test_pacer_allows_five_a_second_per_chat() -> None:
    now = [100.0]
    pacer = ChatPacer(clock=lambda: now[0])
    delays = [pacer.reserve("oc_a") for _ in range(7)]
    assert delays[:5] == [0.0] * 5 and delays[5] == 0.2 and abs(delays[6] - 0.4) < 1e-9
    assert pacer.reserve("oc_b") == 0.0  # another chat has its own bucket
    now[0] += 10
    assert pacer.reserve("oc_a") == 0.0


def test_package_exports_are_honest() -> None:
    for name in feishu_pkg.__all__:
        assert hasattr(feishu_pkg, name), name
