"""Memory tables: records (facts, journal, notes) with their FTS5 index, member profiles, and the change log
that makes consolidation undoable. Declared on the core ``Base`` so the baseline migration creates them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, JSON, Boolean, Float, Index, Integer, String, Text, UniqueConstraint, event, false
from sqlalchemy.orm import Mapped, mapped_column

from assistant.messages import utcnow
from assistant.storage.tables import Base

__all__ = ["FTS_TABLE", "MemoryChange", "MemoryProfileField", "MemoryRecord", "create_fts"]

FTS_TABLE = "memory_fts"

# The keyword index: one row per active record (rowid = record id). Its text is the record's text with CJK runs
# expanded into overlapping bigrams (see memory.textproc), so unicode61 finds Chinese words of two characters.
_CREATE_FTS = f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5(body, tokenize='unicode61')"


class MemoryRecord(Base):
    """One remembered thing. The row is the truth; chroma holds its vector under the id ``str(id)``."""

    __tablename__ = "memory_records"
    __table_args__ = (
        Index("ix_memory_scope", "visibility", "owner_member_id", "group_key"),
        Index("ix_memory_subject", "subject_key"),
        Index("ix_memory_vector_state", "vector_state"),
        Index("ix_memory_said_at", "said_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    # fact | preference | project | person | decision | journal | profile | note
    kind: Mapped[str] = mapped_column(String(16), default="fact")
    visibility: Mapped[str] = mapped_column(String(8))  # private | group | team
    owner_member_id: Mapped[int] = mapped_column(Integer)
    group_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Source: which message, who said it, when it was said (for ingested history: the line's timestamp).
    source_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source_ref: Mapped[str] = mapped_column(String(200), default="")  # conversation id / external id
    source_record_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # fact extracted from a turn
    speaker: Mapped[str] = mapped_column(String(200), default="")
    speaker_member_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    said_at: Mapped[datetime] = mapped_column(default=utcnow)
    day: Mapped[str] = mapped_column(String(10), default="")  # journal day (YYYY-MM-DD) in the member's zone
    confidence: Mapped[float] = mapped_column(Float, default=0.8)
    importance: Mapped[float] = mapped_column(Float, default=0.5)
    # Text written by someone other than the owner, or fetched from the web or a tool: quoted, never obeyed.
    trusted: Mapped[bool] = mapped_column(Boolean, default=True)
    # Sensitivity, not visibility: ``private`` True means no request carrying this record may leave the machine.
    # It is ``local_only`` (written where configuration keeps everything local: a member or chat marked private)
    # or the privacy detector found ``sensitive_kinds`` in the text. ``detector_version`` says which detector
    # gave the verdict; records of an older one are scanned again (memory.sensitivity.rescan). Who may READ a
    # record is ``visibility``, a different question: a member's own harmless note is private-visibility and
    # not sensitive, so it may go to a cloud model in that member's own turn.
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    # Server defaults too: rows written by other tools (an import, an older release) get a verdict to recompute.
    local_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sensitive_kinds: Mapped[str] = mapped_column(String(200), default="", server_default="")  # finding kinds, a,b
    detector_version: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # "subject|attribute" of a fact; a newer active fact with the same key in the same place supersedes it.
    subject_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    superseded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # pending: row written, vector not yet in chroma; synced: both; none: deliberately not indexed (superseded)
    vector_state: Mapped[str] = mapped_column(String(8), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemoryProfileField(Base):
    """One field of a member's profile (portrait). ``source`` says whether the member set it or it was inferred."""

    __tablename__ = "memory_profile"
    __table_args__ = (UniqueConstraint("member_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(Integer, index=True)
    key: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16), default="conversation")  # conversation | member
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MemoryChange(Base):
    """One change made by consolidation (or supersession), with the record's state before it: undo replays it."""

    __tablename__ = "memory_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(16))  # merge | resolve | promote | supersede
    record_id: Mapped[int] = mapped_column(Integer)
    before: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def create_fts() -> DDL:
    return DDL(_CREATE_FTS)


event.listen(MemoryRecord.__table__, "after_create", create_fts().execute_if(dialect="sqlite"))
