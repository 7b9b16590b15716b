"""The core tables: members and their platform identities, chats, messages (inbox and outbox), sessions,
transcript entries and model calls. Other packages add their tables to the same ``Base``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from assistant.messages import utcnow

__all__ = [
    "Base",
    "Chat",
    "Identity",
    "Member",
    "Message",
    "ModelCall",
    "Pairing",
    "SeenEvent",
    "Session",
    "TranscriptEntry",
    "UTCDateTime",
    "table_of",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns aware datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database: pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class. Statements built on it once and run with parameters skip the ORM's
    per-call work, which is what the path of every message wants."""
    return cast(Table, model.__table__)


class Member(Base):
    __tablename__ = "members"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="member")  # owner | admin | member
    timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """One platform account of a member; several identities (Feishu, Telegram) can point at one member."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "platform_user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(200), default="")


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("channel", "platform_chat_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    platform_chat_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # direct | group
    title: Mapped[str] = mapped_column(String(300), default="")
    allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    migrated_to: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Pairing(Base):
    __tablename__ = "pairings"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(128))
    platform_chat_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)


class SeenEvent(Base):
    """Platform event ids already accepted: a redelivery under the same event id is dropped."""

    __tablename__ = "seen_events"
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """Every message in and out. Inbound rows are written before the platform is acknowledged; outbound rows are
    the outbox: written before the send, marked sent only when the platform returned its message id."""

    __tablename__ = "messages"
    __table_args__ = (
        # Inbound dedupe key. Outbound ids are the platform's business (a console restarts its numbering).
        # Partial on SQLite and PostgreSQL alike: written as sqlite_where only, which schema.full_metadata
        # mirrors for PostgreSQL (a postgresql_* argument here would load that dialect in every process).
        Index("uq_inbound_platform_id", "channel", "chat_id", "platform_message_id", unique=True,
              sqlite_where=text("direction = 'in'")),
        Index("ix_messages_status", "direction", "status"),
        # The recent messages of a chat, newest first (the group transcript of every turn).
        Index("ix_messages_chat_recent", "channel", "chat_id", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    chat_kind: Mapped[str] = mapped_column(String(16), default="direct")
    thread_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), nullable=True, index=True)
    sender_id: Mapped[str] = mapped_column(String(128), default="")
    sender_name: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    platform_message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    event_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    reply_to_message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    addressed: Mapped[bool] = mapped_column(Boolean, default=True)
    # inbound: received | processing | answered | ignored | failed; outbound: pending | sent | dead
    status: Mapped[str] = mapped_column(String(16))
    # outbound only
    in_reply_to: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True, index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Session(Base):
    __tablename__ = "sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(256), index=True)  # MemberScope.session_key
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TranscriptEntry(Base):
    """One entry of a session's working memory, in model-message form (user, assistant, tool)."""

    __tablename__ = "transcript"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    tool_calls: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    tool_call_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    name: Mapped[str | None] = mapped_column(String(128), nullable=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), nullable=True)
    compacted: Mapped[bool] = mapped_column(Boolean, default=False)
    # True when a request carrying this entry must stay on this machine: the privacy detector found
    # ``sensitive_kinds`` in it (verdict of ``detector_version``), or it was said where configuration keeps
    # everything local. Not who may read it: a session is its member's alone.
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive_kinds: Mapped[str] = mapped_column(String(200), default="", server_default="")
    detector_version: Mapped[str] = mapped_column(String(40), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelCall(Base):
    __tablename__ = "model_calls"
    __table_args__ = (
        Index("ix_model_calls_member_time", "member_id", "created_at"),
        # Budgets sum the current day and month of everyone's calls (migration 0002).
        Index("ix_model_calls_created_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    role: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))  # the name in [models]
    provider_model: Mapped[str] = mapped_column(String(128), default="")
    location: Mapped[str] = mapped_column(String(8))
    tokens_in: Mapped[int] = mapped_column(Integer, default=0)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    route_reason: Mapped[str] = mapped_column(String(300), default="")
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
