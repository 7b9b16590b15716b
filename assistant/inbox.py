"""The inbox: stores every accepted message, once, before the platform is acknowledged.

Dedupe keys: (channel, chat, platform message id) and (channel, event id). Feishu redelivers unacknowledged events
under the same event id and may resend a message under a new event id after a reconnect, so both are checked, and
both are persisted so that a restart does not bring duplicates back. The table is the queue: a message is
``received`` until dispatch takes it, and anything not ``answered``/``ignored`` at start is taken again.
"""

from __future__ import annotations

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from assistant.messages import Inbound, utcnow
from assistant.storage.db import Database
from assistant.storage.tables import Message, SeenEvent, table_of

__all__ = ["Inbox", "to_inbound"]

PENDING_STATES = ("received", "processing")

# Built once: statements on the tables themselves skip the ORM's per-call work on the path of every message.
_MESSAGES = table_of(Message)
_INSERT = insert(_MESSAGES).returning(_MESSAGES.c.id)
_INSERT_SEEN = insert(table_of(SeenEvent))
_MARK = update(_MESSAGES).where(_MESSAGES.c.id.in_(bindparam("ids", expanding=True))).values(
    status=bindparam("to_status"))
_MARK_MEMBER = _MARK.values(member_id=bindparam("to_member"))


class Inbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def accept(self, msg: Inbound) -> int | None:
        """Store ``msg``; return its row id, or None when it was seen before (then nothing changes)."""
        row = dict(
            direction="in", channel=msg.channel, chat_id=msg.chat_id, chat_kind=msg.chat_kind.value,
            thread_id=msg.thread_id, sender_id=msg.sender_id, sender_name=msg.sender_name, text=msg.text,
            platform_message_id=msg.platform_message_id, event_id=msg.event_id,
            reply_to_message_id=msg.reply_to_message_id, addressed=msg.addressed, status="received",
            created_at=msg.sent_at,
            extra=_extra(msg),
        )
        try:
            async with self._db.transaction() as s:
                if msg.event_id:
                    await s.execute(_INSERT_SEEN, {"channel": msg.channel, "event_id": msg.event_id,
                                                   "seen_at": utcnow()})
                inserted = await s.execute(_INSERT, row)
                return int(inserted.scalar_one())
        except IntegrityError:
            return None

    async def pending(self) -> list[int]:
        """Messages accepted but not finished (a crash or shutdown interrupted them), oldest first."""
        async with self._db.session() as s:
            rows = await s.execute(select(Message.id).where(Message.direction == "in",
                                                            Message.status.in_(PENDING_STATES))
                                   .order_by(Message.id))
            return list(rows.scalars())

    async def load(self, message_id: int) -> Message | None:
        async with self._db.session() as s:
            return await s.get(Message, message_id)

    async def mark(self, message_ids: list[int], status: str, *, member_id: int | None = None) -> None:
        async with self._db.transaction() as s:
            if member_id is None:
                await s.execute(_MARK, {"ids": message_ids, "to_status": status})
            else:
                await s.execute(_MARK_MEMBER, {"ids": message_ids, "to_status": status, "to_member": member_id})


def _extra(msg: Inbound) -> dict[str, object]:
    extra: dict[str, object] = {}
    if msg.mentions:
        extra["mentions"] = [{"id": m.platform_user_id, "name": m.name, "bot": m.is_bot} for m in msg.mentions]
    if msg.attachments:
        extra["attachments"] = [
            {"kind": a.kind, "id": a.platform_file_id, "name": a.name, "mime": a.mime, "size": a.size}
            for a in msg.attachments
        ]
    if msg.chat_title:
        extra["chat_title"] = msg.chat_title
    if msg.sender_is_bot:
        extra["sender_is_bot"] = True
    return extra


def to_inbound(row: Message) -> Inbound:
    """Rebuild the normalised message from its stored row (after a restart the row is all there is)."""
    from assistant.messages import Attachment, ChatKind, Mention

    extra = row.extra or {}
    return Inbound(
        channel=row.channel, chat_id=row.chat_id, chat_kind=ChatKind(row.chat_kind), sender_id=row.sender_id,
        sender_name=row.sender_name, text=row.text, platform_message_id=row.platform_message_id or "",
        addressed=row.addressed, event_id=row.event_id, thread_id=row.thread_id,
        chat_title=extra.get("chat_title"), reply_to_message_id=row.reply_to_message_id,
        mentions=tuple(Mention(m["id"], m.get("name", ""), bool(m.get("bot"))) for m in extra.get("mentions", [])),
        attachments=tuple(Attachment(a["kind"], a["id"], a.get("name"), a.get("mime"), a.get("size"))
                          for a in extra.get("attachments", [])),
        sent_at=row.created_at, sender_is_bot=bool(extra.get("sender_is_bot")),
    )
