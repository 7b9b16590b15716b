"""Feishu event bodies -> ``Inbound``: the pure first step of the message path for Feishu, no I/O.

Input is the decrypted schema-2.0 event body (``{"schema", "header", "event"}``) exactly as Feishu sends it over
the webhook or the long connection. Anything this module does not understand yields ``None``: it never raises,
because an exception here would travel into the SDK's frame handler and turn into a redelivery loop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from assistant.messages import Attachment, ChatKind, Inbound, Mention, utcnow

__all__ = ["CHANNEL_NAME", "MESSAGE_EVENT", "flatten_post", "parse_event"]

CHANNEL_NAME = "feishu"
MESSAGE_EVENT = "im.message.receive_v1"

# "@_user_1", "@_user_12", "@_all": the placeholders Feishu puts in text where a mention was typed.
_PLACEHOLDER = re.compile(r"@_user_\d+|@_all")
_SPACES = re.compile(r"[ \t]{2,}")
_CHAT_KINDS = {"group": ChatKind.GROUP, "topic_group": ChatKind.GROUP, "p2p": ChatKind.DIRECT}
_ATTACHMENT_TYPES = {"image": "image", "file": "file", "audio": "audio", "media": "video"}

SentByBot = Callable[[str], bool]


def parse_event(body: Mapping[str, Any], *, bot_open_id: str, sent_by_bot: SentByBot) -> Inbound | None:
    """Turn one ``im.message.receive_v1`` body into an ``Inbound``, or ``None`` when it is not one we handle.

    ``sent_by_bot(message_id)`` says whether a message id is one the bot posted: a reply to it (``parent_id``)
    or a message in a thread it started (``root_id``) is addressed to the bot even without a mention.
    """
    try:
        return _parse(body, bot_open_id, sent_by_bot)
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError):  # RecursionError: nested JSON
        return None


def _parse(body: Mapping[str, Any], bot_open_id: str, sent_by_bot: SentByBot) -> Inbound | None:
    header = body.get("header") or {}
    if header.get("event_type") != MESSAGE_EVENT:
        return None
    event = body["event"]
    message = event["message"]
    sender = event.get("sender") or {}
    chat_kind = _CHAT_KINDS.get(message.get("chat_type", ""))
    message_id = _optional_str(message.get("message_id"))
    chat_id = _optional_str(message.get("chat_id"))
    sender_id = _optional_str((sender.get("sender_id") or {}).get("open_id"))
    if chat_kind is None or message_id is None or chat_id is None or sender_id is None:
        return None  # ids of the wrong type are as unusable as missing ones
    parent_id = _optional_str(message.get("parent_id"))
    root_id = _optional_str(message.get("root_id"))
    thread_id = _optional_str(message.get("thread_id"))
    event_id = _optional_str(header.get("event_id"))
    content = json.loads(message.get("content") or "{}")
    if not isinstance(content, dict):
        return None
    mentions_raw = message.get("mentions") or []
    mentions = tuple(_mention(m, bot_open_id) for m in mentions_raw)
    by_key = {m.get("key", ""): mention for m, mention in zip(mentions_raw, mentions, strict=True)}

    message_type = message.get("message_type", "")
    attachments: tuple[Attachment, ...] = ()
    if message_type == "text":
        text = str(content.get("text", ""))
    elif message_type == "post":
        text = flatten_post(content)
        attachments = tuple(Attachment("image", key) for key in _post_images(content))
    elif message_type in _ATTACHMENT_TYPES:
        attachments = (_attachment(message_type, content),)
        text = ""
    else:
        return None  # stickers, shared chats, cards, system messages: nothing to answer
    text = _resolve_placeholders(text, by_key)

    bot_mentioned = any(m.is_bot for m in mentions)
    replies_to_bot = any(mid is not None and sent_by_bot(mid) for mid in (parent_id, root_id))
    return Inbound(
        channel=CHANNEL_NAME,
        chat_id=chat_id,
        chat_kind=chat_kind,
        sender_id=sender_id,
        sender_name="",  # events carry no sender name; the adapter looks it up (contact API, cached)
        text=text,
        platform_message_id=message_id,
        addressed=chat_kind is ChatKind.DIRECT or bot_mentioned or replies_to_bot,
        event_id=event_id,
        thread_id=thread_id,
        mentions=tuple(m for m in mentions if m.platform_user_id),
        reply_to_message_id=parent_id,
        attachments=attachments,
        sent_at=_millis(message.get("create_time")),
        sender_is_bot=sender.get("sender_type", "user") != "user",
    )


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _mention(raw: Mapping[str, Any], bot_open_id: str) -> Mention:
    open_id = (raw.get("id") or {}).get("open_id") or ""
    return Mention(platform_user_id=open_id, name=str(raw.get("name") or ""),
                   is_bot=bool(bot_open_id) and open_id == bot_open_id)


def _resolve_placeholders(text: str, by_key: Mapping[str, Mention]) -> str:
    """``@_user_1`` -> ``@Alice``; the bot's own mention is dropped (it is the address, not the content)."""

    def substitute(match: re.Match[str]) -> str:
        key = match.group(0)
        if key == "@_all":
            return "@all"
        mention = by_key.get(key)
        if mention is None:
            return key
        return "" if mention.is_bot else f"@{mention.name or mention.platform_user_id}"

    resolved = _PLACEHOLDER.sub(substitute, text)
    lines = [_SPACES.sub(" ", line).strip() for line in resolved.split("\n")]
    return "\n".join(lines).strip()


def flatten_post(content: Mapping[str, Any]) -> str:
    """Rich text (``post``) as plain text: title, then one line per paragraph; mentions become placeholders.

    Feishu delivers the post body unwrapped (``{"title", "content"}``); older payloads wrap it in a locale key
    (``{"zh_cn": {...}}``), which is unwrapped here.
    """
    if "content" not in content:
        for value in content.values():
            if isinstance(value, dict) and "content" in value:
                content = value
                break
    lines: list[str] = []
    title = str(content.get("title") or "").strip()
    if title:
        lines.append(title)
    for paragraph in content.get("content") or []:
        lines.append("".join(_post_element(el) for el in paragraph if isinstance(el, dict)))
    return "\n".join(lines).strip()


def _post_images(content: Mapping[str, Any]) -> list[str]:
    """The image keys of pictures placed in a rich-text post (downloaded like an image message's)."""
    body = content if "content" in content else next(
        (v for v in content.values() if isinstance(v, dict) and "content" in v), {})
    keys = [str(el.get("image_key")) for paragraph in body.get("content") or [] if isinstance(paragraph, list)
            for el in paragraph if isinstance(el, dict) and el.get("tag") == "img" and el.get("image_key")]
    return list(dict.fromkeys(keys))


def _post_element(element: Mapping[str, Any]) -> str:
    tag = element.get("tag")
    if tag in ("text", "md"):
        return str(element.get("text", ""))
    if tag == "a":
        label, href = str(element.get("text", "")), str(element.get("href", ""))
        return f"{label} ({href})" if href and href != label else label or href
    if tag == "at":
        # In received posts user_id holds the placeholder key ("@_user_1"), resolved with the text mentions.
        user = str(element.get("user_id", ""))
        return user if user.startswith("@_") else f"@{element.get('user_name') or user}"
    if tag == "code_block":
        return f"\n```{element.get('language', '')}\n{element.get('text', '')}\n```\n"
    if tag == "img":
        return "[image]"
    if tag == "media":
        return "[video]"
    if tag == "emotion":
        return f":{element.get('emoji_type', '')}:"
    if tag == "hr":
        return "\n---\n"
    return ""


def _attachment(message_type: str, content: Mapping[str, Any]) -> Attachment:
    key = content.get("file_key") or content.get("image_key")
    if not key:
        raise ValueError("attachment without a key")
    return Attachment(kind=_ATTACHMENT_TYPES[message_type], platform_file_id=str(key),
                      name=content.get("file_name") or None)


def _millis(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return utcnow()
