"""The outbox: every reply is stored before it is sent and marked sent only when the platform returned its id.

Delivery runs per chat in order, chats in parallel. A rate limit waits for the platform's retry_after; a transient
failure retries with backoff; a permanent one (or too many attempts) lands in the dead-letter list, which
``teamclaw status`` shows and an admin can replay. A row left ``sending`` by a crash is sent again at start:
Feishu drops the repeat by its ``uuid`` idempotency key; Telegram has none, so only such an in-flight send can
repeat there (the row is flagged ``in_doubt``).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from assistant.clock import Clock
from assistant.errors import ChannelError, RateLimited, SendFailed
from assistant.messages import Reply, SentRef
from assistant.storage.db import Database
from assistant.storage.tables import Message
from channels.base import Channel

__all__ = ["Outbox"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
MAX_BACKOFF_S = 300.0
SentHook = Callable[[Message, SentRef], Awaitable[None]]


def _backoff(attempt: int) -> float:
    return random.uniform(0, min(MAX_BACKOFF_S, 2.0 ** attempt))


def _row(reply: Reply, member_id: int | None, in_reply_to: int | None) -> Message:
    return Message(
        direction="out", channel=reply.channel, chat_id=reply.chat_id, thread_id=reply.thread_id,
        member_id=member_id, sender_id="bot", sender_name="teamclaw", text=reply.text, status="pending",
        in_reply_to=in_reply_to, idempotency_key=reply.idempotency_key,
        reply_to_message_id=reply.reply_to_message_id,
        extra={"mention_user_ids": list(reply.mention_user_ids), "mention_names": list(reply.mention_names)},
    )


def _reply(row: Message) -> Reply:
    extra = row.extra or {}
    return Reply(
        channel=row.channel, chat_id=row.chat_id, text=row.text, idempotency_key=row.idempotency_key or str(row.id),
        thread_id=row.thread_id, reply_to_message_id=row.reply_to_message_id,
        mention_user_ids=tuple(extra.get("mention_user_ids", ())), mention_names=tuple(extra.get("mention_names", ())),
    )


class Outbox:
    def __init__(self, db: Database, channels: Mapping[str, Channel], clock: Clock, *,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self._db = db
        self._channels = channels
        self._clock = clock
        self._max_attempts = max_attempts
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._chat_tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._closing = False
        self.sent_hooks: list[SentHook] = []

    # ---- writing -------------------------------------------------------------------------------------------
    async def enqueue(self, reply: Reply, member_id: int | None, in_reply_to: int | None = None) -> int:
        """Store a reply for delivery. The same idempotency key twice stores it once (returns the first id)."""
        try:
            async with self._db.session() as s:
                row = _row(reply, member_id, in_reply_to)
                s.add(row)
                await s.flush()
                row_id = row.id
        except IntegrityError:
            async with self._db.session() as s:
                row_id = (await s.execute(select(Message.id).where(
                    Message.idempotency_key == reply.idempotency_key))).scalar_one()
        self._wake.set()
        return row_id

    async def answer(self, reply: Reply, member_id: int | None, inbound_ids: list[int]) -> int | None:
        """Store the reply and mark the inbound messages answered in one transaction: a turn that is re-run after
        a crash finds the key taken and sends nothing twice."""
        try:
            async with self._db.session() as s:
                row = _row(reply, member_id, inbound_ids[-1] if inbound_ids else None)
                s.add(row)
                await s.execute(update(Message).where(Message.id.in_(inbound_ids)).values(status="answered"))
                await s.flush()
                row_id: int | None = row.id
        except IntegrityError:
            await self._mark_answered(inbound_ids)
            row_id = None
        self._wake.set()
        return row_id

    async def _mark_answered(self, inbound_ids: list[int]) -> None:
        async with self._db.session() as s:
            await s.execute(update(Message).where(Message.id.in_(inbound_ids)).values(status="answered"))

    # ---- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        async with self._db.session() as s:
            in_doubt = (await s.execute(select(Message).where(
                Message.direction == "out", Message.status == "sending",
                Message.channel.in_(list(self._channels))))).scalars().all()
            for row in in_doubt:
                row.status = "pending"
                row.extra = {**(row.extra or {}), "in_doubt": True}
        self._runner = asyncio.create_task(self._run(), name="outbox")

    async def aclose(self, drain_s: float = 5.0) -> None:
        """Stop after the sends in flight finish (bounded); unsent rows stay pending for the next start."""
        self._closing = True
        self._wake.set()
        tasks = list(self._chat_tasks.values())
        if tasks:
            await asyncio.wait(tasks, timeout=drain_s)
        for task in [*tasks, *([self._runner] if self._runner else [])]:
            task.cancel()
        await asyncio.gather(*tasks, *([self._runner] if self._runner else []), return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()

    # ---- delivery ------------------------------------------------------------------------------------------
    async def _due_chats(self) -> tuple[set[tuple[str, str]], datetime | None]:
        now = self._clock.now()
        async with self._db.session() as s:
            # Only the channels this process runs: a console session beside the daemon leaves the daemon's rows.
            rows = (await s.execute(select(Message.channel, Message.chat_id, Message.next_attempt_at).where(
                Message.direction == "out", Message.status == "pending",
                Message.channel.in_(list(self._channels))))).all()
        due: set[tuple[str, str]] = set()
        soonest: datetime | None = None
        for channel, chat_id, next_at in rows:
            if next_at is None or next_at <= now:
                due.add((channel, chat_id))
            elif soonest is None or next_at < soonest:
                soonest = next_at
        return due, soonest

    async def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                due, soonest = await self._due_chats()
            except Exception:
                log.exception("outbox: reading the queue failed; retrying")
                due, soonest = set(), self._clock.now() + timedelta(seconds=2)
            for key in due:
                task = self._chat_tasks.get(key)
                if task is None or task.done():
                    self._chat_tasks[key] = asyncio.create_task(self._deliver_chat(*key), name=f"outbox:{key}")
            wait_until = soonest or self._clock.now() + timedelta(days=1)
            await self._clock.sleep_until(wait_until, self._wake)

    async def _deliver_chat(self, channel_name: str, chat_id: str) -> None:
        try:
            while not self._closing:
                async with self._db.session() as s:
                    row = (await s.execute(select(Message).where(
                        Message.direction == "out", Message.status == "pending", Message.channel == channel_name,
                        Message.chat_id == chat_id).order_by(Message.id).limit(1))).scalar_one_or_none()
                if row is None:
                    return
                if row.next_attempt_at is not None and row.next_attempt_at > self._clock.now():
                    self._wake.set()  # the runner sleeps until then
                    return
                await self._deliver_one(row)
        finally:
            self._wake.set()

    async def _deliver_one(self, row: Message) -> None:
        channel = self._channels.get(row.channel)
        if channel is None:
            await self._fail(row, f"channel {row.channel!r} is not running", permanent=False, delay=60.0)
            return
        async with self._db.session() as s:
            await s.execute(update(Message).where(Message.id == row.id)
                            .values(status="sending", attempts=row.attempts + 1))
        try:
            ref = await channel.send(_reply(row))
        except RateLimited as exc:
            await self._fail(row, str(exc), permanent=False, delay=max(exc.retry_after, 0.05), counts=False)
            return
        except SendFailed as exc:
            await self._fail(row, str(exc), permanent=exc.permanent)
            return
        except ChannelError as exc:
            await self._fail(row, str(exc), permanent=False)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("outbox: %s send failed unexpectedly", row.channel)
            await self._fail(row, f"{type(exc).__name__}", permanent=False)
            return
        async with self._db.session() as s:
            await s.execute(update(Message).where(Message.id == row.id).values(
                status="sent", platform_message_id=ref.platform_message_ids[0] if ref.platform_message_ids else None,
                delivered_at=self._clock.now(), last_error=None,
                extra={**(row.extra or {}), "parts": list(ref.platform_message_ids)},
            ))
        for hook in self.sent_hooks:
            try:
                await hook(row, ref)
            except Exception:
                log.exception("outbox: sent hook failed")

    async def _fail(self, row: Message, error: str, *, permanent: bool, delay: float | None = None,
                    counts: bool = True) -> None:
        attempts = row.attempts + 1
        dead = permanent or (counts and attempts >= self._max_attempts)
        wait = delay if delay is not None else _backoff(attempts)
        values: dict[str, object] = {"status": "dead" if dead else "pending", "last_error": error[:500]}
        if not counts:
            values["attempts"] = row.attempts
        if not dead:
            values["next_attempt_at"] = self._clock.now() + timedelta(seconds=wait)
        async with self._db.session() as s:
            await s.execute(update(Message).where(Message.id == row.id).values(**values))
        log.warning("outbox: message %s to %s %s: %s", row.id, row.channel,
                    "dead-lettered" if dead else f"retry in {wait:.1f}s", error[:200])

    # ---- admin ---------------------------------------------------------------------------------------------
    async def dead_letters(self, limit: int = 50) -> list[Message]:
        async with self._db.session() as s:
            rows = await s.execute(select(Message).where(Message.direction == "out", Message.status == "dead")
                                   .order_by(Message.id.desc()).limit(limit))
            return list(rows.scalars())

    async def replay(self, message_id: int) -> bool:
        async with self._db.session() as s:
            result = await s.execute(update(Message).where(
                Message.id == message_id, Message.direction == "out", Message.status == "dead"
            ).values(status="pending", attempts=0, next_attempt_at=None))
            changed = bool(getattr(result, "rowcount", 0))
        self._wake.set()
        return changed
