"""Heartbeat bookkeeping: how many unsolicited messages each member got today, and which findings were raised."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from assistant.messages import utcnow
from assistant.storage.tables import Base

__all__ = ["HeartbeatCounter", "HeartbeatSeen"]


class HeartbeatCounter(Base):
    """Per member: the local day the counter belongs to and the messages sent on it (the daily cap survives
    restarts)."""

    __tablename__ = "heartbeat_counters"
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), default="")  # YYYY-MM-DD in the member's zone
    sent: Mapped[int] = mapped_column(Integer, default=0)
    last_beat_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_spoke_at: Mapped[datetime | None] = mapped_column(nullable=True)


class HeartbeatSeen(Base):
    """A finding already shown to the model once: it does not cost another model call at the next beat."""

    __tablename__ = "heartbeat_seen"
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
