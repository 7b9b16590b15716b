"""The ``attachments`` table: one row per file a member sent, stored once per member by its content hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from assistant.messages import utcnow
from assistant.storage.tables import Base

__all__ = ["StoredFile"]


class StoredFile(Base):
    """A file in a member's workspace (``path`` is relative to the workspace folder). ``visibility`` says who may
    read it (``private``: the member; ``group``: the group it was sent in, ``chat_key``); ``sensitive`` says it must
    not leave this machine: it was sent where configuration keeps everything local (``local_only``), or the privacy
    detector found ``sensitivity_kinds`` in ``description``, the text read from it (the words in a picture, a
    recording's or a video's transcript, a document's text). ``detector_version`` says which detector, at which
    settings, gave that verdict; another one judges the description again (``FileStore.rescan``)."""

    __tablename__ = "attachments"
    __table_args__ = (UniqueConstraint("member_id", "sha256", name="uq_attachments_member_sha256"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    visibility: Mapped[str] = mapped_column(String(16))  # private | group
    chat_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # image | file | audio | video
    name: Mapped[str] = mapped_column(String(256), default="")
    mime: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(512))
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitivity_kinds: Mapped[list[Any]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    local_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    detector_version: Mapped[str] = mapped_column(String(40), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
