"""Telegram updates -> Inbound, on payloads shaped exactly as the Bot API sends them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import Update

import channels.telegram
from assistant.messages import Attachment, ChatKind, Mention
from channels.telegram import BotIdentity, chat_migration, parse_update

ME = BotIdentity(user_id=777000111, username="teamclaw_bot")
GROUP = {"id": -1001234567890, "title": "Release crew", "type": "supergroup"}
FORUM = {"id": -1009876543210, "title": "Platform", "type": "supergroup", "is_forum": True}
ALICE = {"id": 4201, "is_bot": False, "first_name": "Alice", "last_name": "Liddell", "username": "alice_l",
         "language_code": "en"}
BOB = {"id": 4202, "is_bot": False, "first_name": "Bob"}
BOT_USER = {"id": ME.user_id, "is_bot": True, "first_name": "Teamclaw", "username": "teamclaw_bot"}


def update(message: dict[str, Any], *, update_id: int = 9001, kind: str = "message") -> Update:
    return Update.de_json({"update_id": update_id, kind: message}, None)


def group_message(text: str, entities: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    message = {"message_id": 310, "from": ALICE, "chat": GROUP, "date": 1717000000, "text": text, **extra}
    if entities is not None:
        message["entities"] = entities
    return message


def test_mention_of_the_bot_addresses_it_and_is_stripped() -> None:
    inbound = parse_update(update(group_message(
        "@teamclaw_bot draft the release notes", [{"offset": 0, "length": 13, "type": "mention"}]
    )), ME)
    assert inbound is not None
    assert inbound.addressed
    assert inbound.text == "draft the release notes"
    assert inbound.channel == "telegram"
    assert inbound.chat_id == "-1001234567890"
    assert inbound.chat_kind is ChatKind.GROUP
    assert inbound.chat_title == "Release crew"
    assert inbound.sender_id == "4201"
    assert inbound.sender_name == "Alice Liddell"
    assert inbound.platform_message_id == "310"
    assert inbound.event_id == "9001"
    assert inbound.thread_id is None
    assert inbound.sent_at == datetime.fromtimestamp(1717000000, UTC)
    assert inbound.mentions == (Mention("777000111", "@teamclaw_bot", is_bot=True),)


def test_mention_offsets_count_utf16_units_after_emoji() -> None:
    # "👋🏽" is two astral characters, four UTF-16 units each pair: the mention starts at unit 8, character 6.
    text = "👋🏽 hi @teamclaw_bot, can you check 🚀 status?"
    inbound = parse_update(update(group_message(text, [{"offset": 8, "length": 13, "type": "mention"}])), ME)
    assert inbound is not None
    assert inbound.addressed
    assert inbound.text == "👋🏽 hi, can you check 🚀 status?"


def test_mention_in_the_middle_keeps_the_words_around_it() -> None:
    text = "could 📎 @teamclaw_bot summarise the thread"
    inbound = parse_update(update(group_message(text, [{"offset": 9, "length": 13, "type": "mention"}])), ME)
    assert inbound is not None and inbound.text == "could 📎 summarise the thread"


def test_mention_of_someone_else_is_not_for_the_bot() -> None:
    inbound = parse_update(update(group_message(
        "@alice_l lunch?", [{"offset": 0, "length": 8, "type": "mention"}]
    )), ME)
    assert inbound is not None
    assert not inbound.addressed
    assert inbound.text == "@alice_l lunch?"
    assert inbound.mentions == (Mention("@alice_l", "@alice_l"),)


def test_username_match_ignores_case() -> None:
    inbound = parse_update(update(group_message(
        "@TeamClaw_Bot ping", [{"offset": 0, "length": 13, "type": "mention"}]
    )), ME)
    assert inbound is not None and inbound.addressed and inbound.text == "ping"


def test_text_mention_of_the_bot_by_user_id() -> None:
    entity = {"offset": 0, "length": 8, "type": "text_mention", "user": BOT_USER}
    inbound = parse_update(update(group_message("Teamclaw what changed?", [entity])), ME)
    assert inbound is not None and inbound.addressed
    assert inbound.text == "what changed?"


def test_text_mention_of_a_member_is_kept_with_their_id() -> None:
    entity = {"offset": 4, "length": 3, "type": "text_mention", "user": BOB}
    inbound = parse_update(update(group_message("ask Bob about it", [entity])), ME)
    assert inbound is not None and not inbound.addressed
    assert inbound.mentions == (Mention("4202", "Bob"),)
    assert inbound.text == "ask Bob about it"


def test_command_for_this_bot_is_addressed_and_loses_the_suffix() -> None:
    entity = {"offset": 0, "length": 18, "type": "bot_command"}
    inbound = parse_update(update(group_message("/help@teamclaw_bot memory", [entity])), ME)
    assert inbound is not None and inbound.addressed
    assert inbound.text == "/help memory"


def test_command_for_another_bot_is_not_for_us() -> None:
    entity = {"offset": 0, "length": 16, "type": "bot_command"}
    inbound = parse_update(update(group_message("/start@other_bot", [entity])), ME)
    assert inbound is not None
    assert not inbound.addressed
    assert inbound.text == "/start@other_bot"


def test_bare_command_in_a_group_counts_as_addressed() -> None:
    inbound = parse_update(update(group_message("/status", [{"offset": 0, "length": 7, "type": "bot_command"}])), ME)
    assert inbound is not None and inbound.addressed and inbound.text == "/status"


def test_plain_group_chatter_is_delivered_but_not_addressed() -> None:
    inbound = parse_update(update(group_message("shipping at five")), ME)
    assert inbound is not None and not inbound.addressed and inbound.text == "shipping at five"


def test_reply_to_the_bot_addresses_it() -> None:
    replied = {"message_id": 300, "from": BOT_USER, "chat": GROUP, "date": 1716999990, "text": "Done: 3 items"}
    inbound = parse_update(update(group_message("and the fourth?", reply_to_message=replied)), ME)
    assert inbound is not None and inbound.addressed
    assert inbound.reply_to_message_id == "300"


def test_reply_to_a_member_is_not_addressed() -> None:
    replied = {"message_id": 301, "from": BOB, "chat": GROUP, "date": 1716999990, "text": "tea?"}
    inbound = parse_update(update(group_message("yes please", reply_to_message=replied)), ME)
    assert inbound is not None and not inbound.addressed
    assert inbound.reply_to_message_id == "301"


def forum_message(text: str, *, thread_id: int, reply_to: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": 912, "from": ALICE, "chat": FORUM, "date": 1717000000, "text": text,
            "message_thread_id": thread_id, "is_topic_message": True, "reply_to_message": reply_to}


def topic_created(thread_id: int, creator: dict[str, Any]) -> dict[str, Any]:
    return {"message_id": thread_id, "from": creator, "chat": FORUM, "date": 1716990000,
            "message_thread_id": thread_id, "is_topic_message": True,
            "forum_topic_created": {"name": "Release 2.4", "icon_color": 7322096}}


def test_forum_topic_implicit_reply_is_not_a_reply_to_the_bot() -> None:
    # The bot created the topic, so the implicit reply points at one of its messages: still not addressed.
    inbound = parse_update(update(forum_message("status of the build?", thread_id=877,
                                                reply_to=topic_created(877, BOT_USER))), ME)
    assert inbound is not None
    assert inbound.thread_id == "877"
    assert not inbound.addressed
    assert inbound.reply_to_message_id is None


def test_forum_topic_real_reply_to_the_bot() -> None:
    answer = {"message_id": 905, "from": BOT_USER, "chat": FORUM, "date": 1716999000, "text": "Build is green",
              "message_thread_id": 877, "is_topic_message": True}
    inbound = parse_update(update(forum_message("and staging?", thread_id=877, reply_to=answer)), ME)
    assert inbound is not None and inbound.addressed
    assert inbound.thread_id == "877" and inbound.reply_to_message_id == "905"


def test_reply_thread_in_a_plain_supergroup_is_not_a_topic() -> None:
    replied = {"message_id": 301, "from": BOB, "chat": GROUP, "date": 1716999990, "text": "tea?"}
    inbound = parse_update(update(group_message("yes", reply_to_message=replied, message_thread_id=301)), ME)
    assert inbound is not None and inbound.thread_id is None


def test_direct_chat_is_always_addressed() -> None:
    chat = {"id": 4202, "first_name": "Bob", "type": "private"}
    message = {"message_id": 12, "from": BOB, "chat": chat, "date": 1717000000, "text": "remind me at 5"}
    inbound = parse_update(update(message), ME)
    assert inbound is not None
    assert inbound.chat_kind is ChatKind.DIRECT and inbound.addressed
    assert inbound.chat_id == "4202" and inbound.sender_name == "Bob"


def test_photo_with_caption_mentioning_the_bot() -> None:
    message = {
        "message_id": 320, "from": ALICE, "chat": GROUP, "date": 1717000000,
        "photo": [
            {"file_id": "AgAD-small", "file_unique_id": "s1", "file_size": 1200, "width": 90, "height": 60},
            {"file_id": "AgAD-large", "file_unique_id": "l1", "file_size": 98000, "width": 1280, "height": 853},
            {"file_id": "AgAD-mid", "file_unique_id": "m1", "file_size": 21000, "width": 320, "height": 213},
        ],
        "caption": "@teamclaw_bot what is on this whiteboard?",
        "caption_entities": [{"offset": 0, "length": 13, "type": "mention"}],
    }
    inbound = parse_update(update(message), ME)
    assert inbound is not None and inbound.addressed
    assert inbound.text == "what is on this whiteboard?"
    assert inbound.attachments == (Attachment("image", "AgAD-large", mime="image/jpeg", size=98000),)


def test_files_voice_audio_and_video_become_attachments() -> None:
    message = {
        "message_id": 321, "from": BOB, "chat": {"id": 4202, "first_name": "Bob", "type": "private"},
        "date": 1717000000,
        "document": {"file_id": "BQAD-doc", "file_unique_id": "d1", "file_name": "notes.pdf",
                     "mime_type": "application/pdf", "file_size": 5012},
    }
    voice = {**message, "document": None, "voice": {"file_id": "AwAD-voice", "file_unique_id": "v1", "duration": 3,
                                                   "mime_type": "audio/ogg", "file_size": 7000}}
    audio = {**message, "document": None, "audio": {"file_id": "CQAD-audio", "file_unique_id": "a1", "duration": 60,
                                                   "title": "Standup", "mime_type": "audio/mpeg", "file_size": 90000}}
    video = {**message, "document": None, "video": {"file_id": "BAAD-video", "file_unique_id": "w1", "width": 640,
                                                   "height": 360, "duration": 5, "file_name": "demo.mp4",
                                                   "mime_type": "video/mp4", "file_size": 400000}}
    kinds = []
    for payload in (message, voice, audio, video):
        payload = {k: v for k, v in payload.items() if v is not None}
        inbound = parse_update(update(payload), ME)
        assert inbound is not None and inbound.text == ""
        kinds.append(inbound.attachments)
    assert kinds == [
        (Attachment("file", "BQAD-doc", name="notes.pdf", mime="application/pdf", size=5012),),
        (Attachment("audio", "AwAD-voice", mime="audio/ogg", size=7000),),
        (Attachment("audio", "CQAD-audio", name="Standup", mime="audio/mpeg", size=90000),),
        (Attachment("video", "BAAD-video", name="demo.mp4", mime="video/mp4", size=400000),),
    ]


def test_anonymous_admin_speaks_as_the_group() -> None:
    anonymous = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
    message = group_message("/status", [{"offset": 0, "length": 7, "type": "bot_command"}], sender_chat=GROUP)
    inbound = parse_update(update({**message, "from": anonymous}), ME)
    assert inbound is not None
    assert inbound.sender_id == "-1001234567890" and inbound.sender_name == "Release crew"
    assert not inbound.sender_is_bot


def test_sender_without_last_name_or_first_name() -> None:
    nameless = {"id": 4300, "is_bot": False, "first_name": "", "username": "zed"}
    inbound = parse_update(update({**group_message("hi"), "from": nameless}), ME)
    assert inbound is not None and inbound.sender_name == "@zed"


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("channel_post", {"message_id": 1, "chat": {"id": -1001, "title": "News", "type": "channel"},
                          "date": 1717000000, "text": "new release"}),
        ("edited_message", group_message("@teamclaw_bot fixed typo", [{"offset": 0, "length": 13, "type": "mention"}],
                                         edit_date=1717000100)),
        ("message", {"message_id": 2, "from": ALICE, "chat": GROUP, "date": 1717000000,
                     "new_chat_members": [BOB]}),
        ("message", {"message_id": 3, "from": ALICE, "chat": GROUP, "date": 1717000000,
                     "sticker": {"file_id": "CAAD", "file_unique_id": "st", "type": "regular", "width": 512,
                                 "height": 512, "is_animated": False, "is_video": False}}),
        ("message", topic_created(877, ALICE)),
    ],
    ids=["channel-post", "edited", "member-joined", "sticker", "topic-created"],
)
def test_ignored_updates(kind: str, message: dict[str, Any]) -> None:
    assert parse_update(update(message, kind=kind), ME) is None


def test_group_migration_service_messages() -> None:
    old = {"id": -4001, "title": "Crew", "type": "group"}
    new = {"id": -1004001, "title": "Crew", "type": "supergroup"}
    to = {"message_id": 50, "from": ALICE, "chat": old, "date": 1717000000, "migrate_to_chat_id": -1004001}
    from_ = {"message_id": 1, "from": ALICE, "chat": new, "date": 1717000000, "migrate_from_chat_id": -4001}
    assert chat_migration(update(to)) == ("-4001", "-1004001")
    assert chat_migration(update(from_)) == ("-4001", "-1004001")
    assert parse_update(update(to), ME) is None
    assert chat_migration(update(group_message("hi"))) is None


def test_exported_names_exist() -> None:
    for name in channels.telegram.__all__:
        assert hasattr(channels.telegram, name), name
    assert sorted(channels.telegram.__all__) == sorted(
        n for n in dir(channels.telegram) if not n.startswith("_") and n not in {"annotations"}
        and not isinstance(getattr(channels.telegram, n), type(channels.telegram))
    )
