"""Property tests of the channel payload parsers: whatever JSON-ish value arrives, ``parse_event`` (Feishu) and the
Telegram update reader + ``parse_update`` return None or a well-formed ``Inbound``; they never raise."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Bot

from assistant.messages import ChatKind, Inbound
from channels.feishu.parse import parse_event
from channels.telegram.parse import BotIdentity, parse_update
from channels.telegram.webhook import _read_update

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ME = BotIdentity(user_id=777000111, username="teamclaw_bot")
BOT = Bot("123456789:AAFakeTokenForTheFuzzTests_xyz0123")

scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | \
    st.floats(allow_nan=True) | st.text(max_size=30)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
# A value of any type where a field of a given type is expected.
anything = json_values | st.sampled_from(["", "0", "-1", "group", "p2p", "text", "@_user_1", "ou_bot", "\x00", "🙂"])


def _well_formed(inbound: Inbound | None, *, ids_required: bool = True) -> None:
    if inbound is None:
        return
    assert isinstance(inbound, Inbound)
    for name in ("channel", "chat_id", "sender_id", "sender_name", "text", "platform_message_id"):
        assert isinstance(getattr(inbound, name), str), (name, getattr(inbound, name))
    if ids_required:  # Feishu's parser checks them; Telegram's ids are whatever the signed update says
        assert inbound.chat_id and inbound.sender_id and inbound.platform_message_id
    assert isinstance(inbound.chat_kind, ChatKind)
    for optional in ("event_id", "thread_id", "reply_to_message_id"):
        assert getattr(inbound, optional) is None or isinstance(getattr(inbound, optional), str), optional


# ---- Feishu -------------------------------------------------------------------------------------------------

@st.composite
def feishu_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Schema-2.0 message events with every field possibly replaced by a value of another type."""
    def field(valid: Any) -> Any:
        return draw(st.just(valid) | anything)

    content = draw(st.sampled_from([
        json.dumps({"text": "@_user_1 hi"}), json.dumps({"title": "t", "content": [[{"tag": "at", "user_id": 1}]]}),
        json.dumps({"image_key": None}), json.dumps([1, 2]), "not json", json.dumps({"file_key": {"x": 1}}),
    ]) | st.text(max_size=40) | json_values.map(lambda v: json.dumps(v)))
    message = {
        "message_id": field("om_1"), "chat_id": field("oc_1"), "chat_type": field("group"),
        "message_type": field(draw(st.sampled_from(["text", "post", "image", "file", "audio", "media", "sticker"]))),
        "content": field(content), "mentions": field([{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "b"}]),
        "parent_id": field(""), "root_id": field(""), "thread_id": field(""), "create_time": field("1700000000000"),
    }
    body = {
        "schema": "2.0",
        "header": field({"event_id": field("ev_1"), "event_type": field("im.message.receive_v1")}),
        "event": field({"sender": field({"sender_id": field({"open_id": field("ou_alice")}),
                                         "sender_type": field("user")}),
                        "message": field(message)}),
    }
    for key in draw(st.lists(st.sampled_from(["schema", "header", "event"]), max_size=2)):
        body.pop(key, None)
    return body


@FUZZ
@given(feishu_bodies())
def test_feishu_parse_never_raises_on_near_valid_events(body: dict[str, Any]) -> None:
    _well_formed(parse_event(body, bot_open_id="ou_bot", sent_by_bot=lambda mid: mid == "om_bot"))


@FUZZ
@given(json_values)
def test_feishu_parse_never_raises_on_any_json(value: Any) -> None:
    body = value if isinstance(value, dict) else {"event": value}
    _well_formed(parse_event(body, bot_open_id="ou_bot", sent_by_bot=lambda mid: False))


def test_feishu_parse_survives_deeply_nested_content() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    body = {"schema": "2.0", "header": {"event_id": "e", "event_type": "im.message.receive_v1"},
            "event": {"sender": {"sender_id": {"open_id": "ou_a"}, "sender_type": "user"},
                      "message": {"message_id": "om_1", "chat_id": "oc_1", "chat_type": "group",
                                  "message_type": "text", "content": deep}}}
    assert parse_event(body, bot_open_id="ou_bot", sent_by_bot=lambda mid: False) is None


# ---- Telegram -----------------------------------------------------------------------------------------------

@st.composite
def telegram_updates(draw: st.DrawFn) -> dict[str, Any]:
    def field(valid: Any) -> Any:
        return draw(st.just(valid) | anything)

    chat = field({"id": field(-100123), "type": field(draw(st.sampled_from(["private", "group", "supergroup",
                                                                             "channel"]))), "title": field("T")})
    message = {
        "message_id": field(5), "date": field(1_700_000_000), "chat": chat,
        "from": field({"id": field(42), "is_bot": field(False), "first_name": field("Alice")}),
        "text": field("@teamclaw_bot hi"),
        "entities": field([{"type": field("mention"), "offset": field(0), "length": field(13)}]),
        "reply_to_message": field({"message_id": 4, "date": 1, "chat": {"id": -100123, "type": "group"},
                                   "from": {"id": ME.user_id, "is_bot": True, "first_name": "bot"}}),
        "message_thread_id": field(None), "is_topic_message": field(False), "caption": field(None),
        "photo": field(None), "document": field(None), "sender_chat": field(None),
        "migrate_to_chat_id": field(None),
    }
    return {"update_id": field(9001), draw(st.sampled_from(["message", "edited_message", "channel_post",
                                                            "callback_query"])): field(message)}


def _parse_raw(raw: bytes) -> Inbound | None:
    update = _read_update(raw, BOT)
    inbound = None if update is None else parse_update(update, ME)
    _well_formed(inbound, ids_required=False)
    return inbound


@FUZZ
@given(telegram_updates())
def test_telegram_reader_and_parser_never_raise_on_near_valid_updates(update: dict[str, Any]) -> None:
    _parse_raw(json.dumps(update).encode())


@FUZZ
@given(json_values | st.binary(max_size=200).map(lambda b: {"raw": b.decode("latin-1")}))
def test_telegram_reader_never_raises_on_any_json(value: Any) -> None:
    _parse_raw(json.dumps(value).encode())


@FUZZ
@given(st.binary(max_size=300))
def test_telegram_reader_never_raises_on_any_bytes(raw: bytes) -> None:
    _parse_raw(raw)


def test_telegram_reader_survives_deep_nesting() -> None:
    assert _parse_raw(b'{"update_id": 1, "message": ' + b"[" * 100_000 + b"]" * 100_000 + b"}") is None
