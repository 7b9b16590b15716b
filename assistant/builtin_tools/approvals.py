"""Shell approvals, persisted: a command outside the allowlist waits here until its member approves it in chat.

A grant is ``once`` (this exact command line, run at approval and then spent), ``session`` (this program, for the
rest of this conversation) or ``always`` (this program, for this member, until revoked in the database). Rows are
kept after use, so there is a record of every approved command.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Integer, String, Text, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from assistant.messages import utcnow
from assistant.storage.db import Database
from assistant.storage.tables import Base

__all__ = ["Grant", "ShellApproval", "create_pending", "decide", "find_grant", "pending_for"]

Grant = Literal["once", "session", "always"]


class ShellApproval(Base):
    __tablename__ = "shell_approvals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(Integer, index=True)
    session_key: Mapped[str] = mapped_column(String(256))
    program: Mapped[str] = mapped_column(String(256))
    command_line: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | used | denied
    grant: Mapped[str] = mapped_column(String(16), default="")  # once | session | always
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)


async def create_pending(db: Database, *, member_id: int, session_key: str, program: str, command_line: str,
                         reason: str) -> int:
    async with db.session() as session:
        row = ShellApproval(member_id=member_id, session_key=session_key, program=program,
                            command_line=command_line, reason=reason[:300])
        session.add(row)
        await session.flush()
        return row.id


async def find_grant(db: Database, *, member_id: int, session_key: str, program: str) -> ShellApproval | None:
    """A standing grant (session or always) that covers ``program`` for this member and conversation."""
    async with db.session() as session:
        query = select(ShellApproval).where(
            ShellApproval.member_id == member_id,
            ShellApproval.program == program,
            ShellApproval.status == "approved",
            or_(ShellApproval.grant == "always",
                (ShellApproval.grant == "session") & (ShellApproval.session_key == session_key)),
        ).limit(1)
        return (await session.execute(query)).scalar_one_or_none()


async def pending_for(db: Database, member_id: int) -> list[ShellApproval]:
    async with db.session() as session:
        query = select(ShellApproval).where(ShellApproval.member_id == member_id,
                                            ShellApproval.status == "pending").order_by(ShellApproval.id)
        return list((await session.execute(query)).scalars())


async def decide(db: Database, approval_id: int, *, member_id: int | None, grant: Grant | None) -> ShellApproval | None:
    """Approve (``grant`` given) or deny (``grant`` None) a pending row; ``member_id`` None means an admin, who
    may decide any member's request. Returns the updated row, or None when no such pending request exists."""
    async with db.session() as session:
        row = await session.get(ShellApproval, approval_id)
        if row is None or row.status != "pending" or (member_id is not None and row.member_id != member_id):
            return None
        row.status = "denied" if grant is None else ("used" if grant == "once" else "approved")
        row.grant = grant or ""
        row.decided_at = utcnow()
        await session.flush()
        session.expunge(row)
        return row
