"""Telegram ``Update`` -> ``Inbound``: who spoke, in which chat and forum topic, and whether to the bot. Pure.

What is ignored (returns None): edited messages (the inbox dedupes on message id, so an edit can never start a
second turn; the edit itself is dropped), channel posts, callback queries and every other update kind, service
messages (members joining, topics created, pins, migrations), and messages that carry neither text, caption nor
a file we understand (stickers, polls, locations).

The bot counts as addressed when a ``mention`` entity names its @username, a ``text_mention`` entity names its
user id, the message starts with a ``/command`` that is bare or ends in ``@its_username``, or the message replies
to one of its messages; in a direct chat always. Entity offsets are UTF-16 code units (see ``utf16``).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, MessageEntity, Update, User
from telegram.constants import ChatType

from assistant.messages import Attachment, ChatKind, Inbound, Mention
from channels.telegram.utf16 import utf16_split

__all__ = ["CHANNEL_NAME", "BotIdentity", "chat_migration", "parse_message", "parse_update"]

CHANNEL_NAME = "telegram"
_LEADING_PUNCTUATION = ",:;"
_CLOSING_PUNCTUATION = ",.;:!?"


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """The bot itself, from getMe: needed to tell mentions of us from mentions of others."""

    user_id: int
    username: str  # without the leading "@"

    def is_named(self, username: str) -> bool:
        return username.removeprefix("@").lower() == self.username.lower()


@dataclass(frozen=True, slots=True)
class _Cut:
    """A span of the text to replace, in UTF-16 code units."""

    offset: int
    length: int
    replacement: str


@dataclass(slots=True)
class _EntityScan:
    mentioned: bool = False
    command_for_us: bool = False
    command_for_other_bot: bool = False


def parse_update(update: Update, me: BotIdentity) -> Inbound | None:
    """The ``Inbound`` for a new message, or None for everything we deliberately ignore (module docstring)."""
    if update.message is None:
        return None
    try:
        return parse_message(update.message, me, event_id=str(update.update_id))
    except (TypeError, ValueError, AttributeError, KeyError, IndexError):
        # PTB builds objects without checking field types: a forged or corrupted update (a list where text
        # belongs, a string offset) is not a message we can read, and must not stall the updates after it.
        return None


def chat_migration(update: Update) -> tuple[str, str] | None:
    """(old_chat_id, new_chat_id) when this update announces a group becoming a supergroup.

    Telegram sends two service messages for one migration (``migrate_to_chat_id`` in the old group,
    ``migrate_from_chat_id`` in the new supergroup); both give the same pair, so a handler must be idempotent.
    """
    message = update.message
    if message is None:
        return None
    if message.migrate_to_chat_id:
        return str(message.chat.id), str(message.migrate_to_chat_id)
    if message.migrate_from_chat_id:
        return str(message.migrate_from_chat_id), str(message.chat.id)
    return None


def parse_message(message: Message, me: BotIdentity, *, event_id: str | None = None) -> Inbound | None:
    chat = message.chat
    if chat.type == ChatType.CHANNEL:
        return None
    sender = _sender(message)
    if sender is None:
        return None
    text = message.text if message.text is not None else (message.caption or "")
    entities = message.entities if message.text is not None else message.caption_entities
    attachments = _attachments(message)
    if not text.strip() and not attachments:
        return None

    direct = chat.type == ChatType.PRIVATE
    scan = _EntityScan()
    mentions, cuts = _read_entities(text, entities, me, scan)
    replied = _real_reply(message)
    replied_to_bot = replied is not None and replied.from_user is not None and replied.from_user.id == me.user_id
    addressed = direct or (
        not scan.command_for_other_bot and (scan.mentioned or scan.command_for_us or replied_to_bot)
    )
    sender_id, sender_name, sender_is_bot = sender
    return Inbound(
        channel=CHANNEL_NAME,
        chat_id=str(chat.id),
        chat_kind=ChatKind.DIRECT if direct else ChatKind.GROUP,
        sender_id=sender_id,
        sender_name=sender_name,
        text=_apply_cuts(text, cuts),
        platform_message_id=str(message.message_id),
        addressed=addressed,
        event_id=event_id,
        thread_id=str(message.message_thread_id) if message.is_topic_message and message.message_thread_id else None,
        chat_title=chat.title,
        mentions=tuple(mentions),
        reply_to_message_id=str(replied.message_id) if replied is not None else None,
        attachments=attachments,
        sent_at=message.date,
        sender_is_bot=sender_is_bot,
    )


def _sender(message: Message) -> tuple[str, str, bool] | None:
    # Anonymous group admins and linked-channel posts speak as a chat; the user in ``from`` is a placeholder.
    if message.sender_chat is not None:
        return str(message.sender_chat.id), message.sender_chat.title or str(message.sender_chat.id), False
    user = message.from_user
    if user is None:
        return None
    return str(user.id), _display_name(user), user.is_bot


def _display_name(user: User) -> str:
    full = " ".join(part for part in (user.first_name, user.last_name) if part).strip()
    return full or (f"@{user.username}" if user.username else str(user.id))


def _real_reply(message: Message) -> Message | None:
    """The message this one replies to, unless it is the forum's implicit reply to the topic-created message."""
    replied = message.reply_to_message
    if replied is None:
        return None
    if message.is_topic_message and replied.message_id == message.message_thread_id:
        return None
    return replied


def _read_entities(
    text: str, entities: tuple[MessageEntity, ...], me: BotIdentity, scan: _EntityScan
) -> tuple[list[Mention], list[_Cut]]:
    mentions: list[Mention] = []
    cuts: list[_Cut] = []
    for entity in entities:
        _, span, _ = utf16_split(text, entity.offset, entity.length)
        if entity.type == MessageEntity.MENTION:
            if me.is_named(span):
                scan.mentioned = True
                cuts.append(_Cut(entity.offset, entity.length, ""))
                mentions.append(Mention(str(me.user_id), f"@{me.username}", is_bot=True))
            else:
                # A username mention carries no user id; "@name" can never collide with Telegram's numeric ids.
                mentions.append(Mention(span, span))
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            user = entity.user
            if user.id == me.user_id:
                scan.mentioned = True
                cuts.append(_Cut(entity.offset, entity.length, ""))
            mentions.append(Mention(str(user.id), _display_name(user), is_bot=user.is_bot))
        elif entity.type == MessageEntity.BOT_COMMAND:
            command, _, target = span.partition("@")
            if target and not me.is_named(target):
                if entity.offset == 0:
                    scan.command_for_other_bot = True
                continue
            if target:
                cuts.append(_Cut(entity.offset, entity.length, command))
            if entity.offset == 0:
                scan.command_for_us = True
    return mentions, cuts


def _apply_cuts(text: str, cuts: list[_Cut]) -> str:
    # Last cut first, so the UTF-16 offsets of the earlier ones still point at the original text.
    for cut in sorted(cuts, key=lambda c: c.offset, reverse=True):
        before, _, after = utf16_split(text, cut.offset, cut.length)
        if cut.replacement:
            text = before + cut.replacement + after
            continue
        left, right = before.rstrip(" \t"), after.lstrip(" \t")
        if not left.strip():  # "@bot, summarise this" -> "summarise this"
            right = right.lstrip(_LEADING_PUNCTUATION).lstrip(" \t")
        glued = left.endswith("\n") or right.startswith("\n") or right[:1] in _CLOSING_PUNCTUATION
        joiner = " " if left and right and not glued else ""
        text = left + joiner + right
    return text.strip()


def _attachments(message: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if message.photo:
        largest = max(message.photo, key=lambda p: p.width * p.height)
        found.append(Attachment("image", largest.file_id, mime="image/jpeg", size=largest.file_size))
    if message.document is not None:
        doc = message.document
        found.append(Attachment("file", doc.file_id, name=doc.file_name, mime=doc.mime_type, size=doc.file_size))
    if message.voice is not None:
        voice = message.voice
        found.append(Attachment("audio", voice.file_id, mime=voice.mime_type or "audio/ogg", size=voice.file_size))
    if message.audio is not None:
        audio = message.audio
        name = audio.file_name or audio.title
        found.append(Attachment("audio", audio.file_id, name=name, mime=audio.mime_type, size=audio.file_size))
    if message.video is not None:
        video = message.video
        found.append(
            Attachment("video", video.file_id, name=video.file_name, mime=video.mime_type, size=video.file_size)
        )
    if message.video_note is not None:
        note = message.video_note
        found.append(Attachment("video", note.file_id, mime="video/mp4", size=note.file_size))
    return tuple(found)
