"""Values that travel the message path: channel -> Inbound -> agent turn -> Reply -> channel."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "Attachment",
    "ChatKind",
    "Inbound",
    "MemberScope",
    "Mention",
    "OutgoingFile",
    "Reply",
    "SentRef",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ChatKind(enum.StrEnum):
    DIRECT = "direct"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class Mention:
    platform_user_id: str
    name: str = ""
    is_bot: bool = False


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # "image" | "file" | "audio" | "video"
    platform_file_id: str
    name: str | None = None
    mime: str | None = None
    size: int | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """A platform event normalised: who said what, where, and whether it was said to us.

    ``platform_message_id`` (with ``channel`` and ``chat_id``) is the dedupe key the inbox stores before the
    platform is acknowledged; ``event_id`` is a second key for platforms that redeliver under new event ids.
    """

    channel: str
    chat_id: str
    chat_kind: ChatKind
    sender_id: str
    sender_name: str
    text: str
    platform_message_id: str
    addressed: bool = True
    event_id: str | None = None
    thread_id: str | None = None
    chat_title: str | None = None
    mentions: tuple[Mention, ...] = ()
    reply_to_message_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    sent_at: datetime = field(default_factory=utcnow)
    sender_is_bot: bool = False


@dataclass(frozen=True, slots=True)
class MemberScope:
    """Who a turn acts for. Computed once in dispatch and passed down; nothing below widens it.

    A retrieval for this scope may see: the member's private records, the records of ``group_chat_key`` (when
    the turn happens in a group) and team records. Nothing else.
    """

    member_id: int
    member_name: str
    channel: str
    chat_id: str
    chat_kind: ChatKind
    thread_id: str | None = None
    timezone: str = "UTC"
    is_admin: bool = False
    private: bool = False  # the member or the chat is marked private: every model call stays local

    @property
    def group_chat_key(self) -> str | None:
        if self.chat_kind is ChatKind.GROUP:
            return f"{self.channel}:{self.chat_id}"
        return None

    @property
    def session_key(self) -> str:
        """One conversation per member per chat (and per forum topic)."""
        topic = f"#{self.thread_id}" if self.thread_id else ""
        return f"m{self.member_id}@{self.channel}:{self.chat_id}{topic}"


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    """A file a reply carries (``send_file``): a path on this machine, sent as a photo when ``kind`` is "image"."""

    path: str
    name: str
    kind: str = "file"  # "image" | "file"


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer on its way out. ``idempotency_key`` is stable across retries and restarts."""

    channel: str
    chat_id: str
    text: str
    idempotency_key: str
    thread_id: str | None = None
    reply_to_message_id: str | None = None
    mention_user_ids: tuple[str, ...] = ()
    mention_names: tuple[str, ...] = ()
    files: tuple[OutgoingFile, ...] = ()  # sent after the text (the text becomes their caption when short)


@dataclass(frozen=True, slots=True)
class SentRef:
    """What the platform returned for a delivered reply (one id per part when a long answer was split)."""

    platform_message_ids: tuple[str, ...]
