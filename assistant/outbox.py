"""The outbox: every reply is stored before it is sent and marked sent only when the platform returned its id.

Delivery runs per chat in order, chats in parallel. A rate limit waits for the platform's retry_after; a transient
failure retries with backoff; a permanent one (or too many attempts) lands in the dead-letter list, which
``teamclaw status`` shows and an admin can replay. A reply that reached the platform just before a crash, but was
not yet marked sent, is sent again at start: Feishu drops the repeat by its ``uuid`` idempotency key; Telegram has
none, so only such an in-flight send can repeat there.

Several processes on one PostgreSQL share the table: a process sends a chat's oldest pending reply only while it
holds that row's lock (``SELECT ... FOR UPDATE SKIP LOCKED`` in a transaction that lasts the send and commits the
record of it, or of its failure). A head locked by another process means that process is sending this chat: it
takes the later replies when it is done, so a chat's replies go out in order and each once. A live process that
is slow keeps its lock (nothing is sent twice however long the platform takes); one that dies loses it with its
connection, and the periodic read of the table by a live one sends what it left.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from assistant.clock import Clock
from assistant.errors import ChannelError, RateLimited, SendFailed
from assistant.messages import OutgoingFile, Reply, SentRef, utcnow
from assistant.storage.db import Database
from assistant.storage.tables import Message, table_of
from channels.base import Channel

__all__ = ["Outbox", "Queued"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
# With other processes on the table: how often it is read for replies nobody sends, and how many sends at once
# may hold a row lock (each keeps a pooled connection while the platform answers).
SHARED_SCAN_S = 1.5
LOCKED_SENDS = 8
MAX_BACKOFF_S = 300.0
RECORD_ATTEMPTS = 5
ChatKey = tuple[str, str]

# Built once: statements on the table itself skip the ORM's per-call work on the path of every reply.
_MESSAGES = table_of(Message)
_INSERT = insert(_MESSAGES).returning(_MESSAGES.c.id)
_ANSWERED = update(_MESSAGES).where(_MESSAGES.c.id.in_(bindparam("ids", expanding=True))).values(
    status="answered", member_id=bindparam("to_member"))
_SENT = update(_MESSAGES).where(_MESSAGES.c.id == bindparam("row_id")).values(
    status="sent", attempts=bindparam("to_attempts"), platform_message_id=bindparam("to_platform_id"),
    delivered_at=bindparam("at"), last_error=None, extra=bindparam("to_extra"))


@dataclass(frozen=True, slots=True)
class Queued:
    """A stored reply waiting for delivery (what the sent hooks receive)."""

    row_id: int
    reply: Reply
    attempts: int
    member_id: int | None


SentHook = Callable[[Queued, SentRef], Awaitable[None]]


def _backoff(attempt: int) -> float:
    return random.uniform(0, min(MAX_BACKOFF_S, 2.0 ** attempt))


def _row(reply: Reply, member_id: int | None, in_reply_to: int | None) -> dict[str, object]:
    return dict(
        direction="out", channel=reply.channel, chat_id=reply.chat_id, thread_id=reply.thread_id,
        member_id=member_id, sender_id="bot", sender_name="teamclaw", text=reply.text, status="pending",
        in_reply_to=in_reply_to, idempotency_key=reply.idempotency_key,
        reply_to_message_id=reply.reply_to_message_id,
        extra={"mention_user_ids": list(reply.mention_user_ids), "mention_names": list(reply.mention_names),
               **_files_extra(reply)},
        attempts=0, addressed=True, chat_kind="direct", created_at=utcnow(),
    )


def _queued(row: Message) -> Queued:
    extra = row.extra or {}
    reply = Reply(
        channel=row.channel, chat_id=row.chat_id, text=row.text, idempotency_key=row.idempotency_key or str(row.id),
        thread_id=row.thread_id, reply_to_message_id=row.reply_to_message_id,
        mention_user_ids=tuple(extra.get("mention_user_ids", ())), mention_names=tuple(extra.get("mention_names", ())),
        files=tuple(OutgoingFile(f["path"], f["name"], f.get("kind", "file")) for f in extra.get("files", ())),
    )
    return Queued(row.id, reply, row.attempts, row.member_id)


def _files_extra(reply: Reply) -> dict[str, object]:
    """The files a reply carries, kept in its row so a send after a restart still attaches them."""
    if not reply.files:
        return {}
    return {"files": [{"path": f.path, "name": f.name, "kind": f.kind} for f in reply.files]}


class Outbox:
    """New replies reach their chat's delivery task in memory (no table scan per reply); the table is read at start
    and whenever a retry comes due, so nothing depends on memory surviving a crash."""

    def __init__(self, db: Database, channels: Mapping[str, Channel], clock: Clock, *,
                 max_attempts: int = MAX_ATTEMPTS, shared_scan_s: float = SHARED_SCAN_S) -> None:
        self._shared_scan_s = shared_scan_s
        # Sends that hold a row lock (shared table) each keep a pooled connection for the send's length.
        self._locked_sends = asyncio.Semaphore(LOCKED_SENDS)
        self._db = db
        self._channels = channels
        self._clock = clock
        self._max_attempts = max_attempts
        self._queues: dict[ChatKey, deque[Queued]] = {}
        self._queued_ids: set[int] = set()  # queued in memory or being sent right now
        self._blocked: set[ChatKey] = set()  # a reply here waits for its retry: later ones must not overtake it
        # While a scan reads: rows whose delivery attempt ended meanwhile (the scan's copy of them is stale).
        self._settled: set[int] | None = None
        # Deliveries start only once the channels are up (``open``): a reply pending from before a restart would
        # otherwise fail against a channel that is still starting, and lose an attempt each restart.
        self._open = asyncio.Event()
        self._tasks: dict[ChatKey, asyncio.Task[None]] = {}
        self._scan_at: datetime | None = None
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        # Other processes may send from the same table (PostgreSQL): claim before sending.
        self._shared = not db.is_sqlite
        self._closing = False
        self.sent_hooks: list[SentHook] = []

    # ---- writing -------------------------------------------------------------------------------------------
    async def enqueue(self, reply: Reply, member_id: int | None, in_reply_to: int | None = None) -> int:
        """Store a reply for delivery. The same idempotency key twice stores it once (returns the first id)."""
        try:
            async with self._db.transaction() as s:
                row_id = int((await s.execute(_INSERT, _row(reply, member_id, in_reply_to))).scalar_one())
        except IntegrityError:
            async with self._db.session() as s:
                return int((await s.execute(select(Message.id).where(
                    Message.idempotency_key == reply.idempotency_key))).scalar_one())
        self._push(Queued(row_id, reply, 0, member_id))
        return row_id

    async def answer(self, reply: Reply, member_id: int | None, inbound_ids: list[int],
                     also: Callable[[AsyncConnection], Awaitable[None]] | None = None,
                     first: Reply | None = None) -> int | None:
        """Store the reply and mark the inbound messages answered in one transaction (with ``also``, whatever the
        caller writes with it: the turn's transcript). A turn that is re-run after a crash finds the key taken
        and sends nothing twice. ``first``: another reply stored in the same transaction and queued before this
        one (the answer sent to a member's direct chat when the group gets only a line about it)."""
        first_id: int | None = None
        try:
            async with self._db.transaction() as s:
                in_reply_to = inbound_ids[-1] if inbound_ids else None
                if first is not None:
                    first_id = int((await s.execute(_INSERT, _row(first, member_id, in_reply_to))).scalar_one())
                row = _row(reply, member_id, in_reply_to)
                row_id = int((await s.execute(_INSERT, row)).scalar_one())
                await s.execute(_ANSWERED, {"ids": inbound_ids, "to_member": member_id})
                if also is not None:
                    await also(s)
        except IntegrityError:
            async with self._db.transaction() as s:
                await s.execute(_ANSWERED, {"ids": inbound_ids, "to_member": member_id})
            return None
        if first is not None and first_id is not None:
            self._push(Queued(first_id, first, 0, member_id))
        self._push(Queued(row_id, reply, 0, member_id))
        return row_id

    def _push(self, item: Queued) -> None:
        key = (item.reply.channel, item.reply.chat_id)
        if (item.reply.channel not in self._channels or item.row_id in self._queued_ids or self._closing
                or key in self._blocked):
            return
        self._queued_ids.add(item.row_id)
        self._queues.setdefault(key, deque()).append(item)
        task = self._tasks.get(key)
        if task is None or task.done():
            self._tasks[key] = asyncio.create_task(self._deliver_chat(key), name=f"outbox:{key[0]}:{key[1]}")

    # ---- lifecycle -----------------------------------------------------------------------------------------
    async def start(self, *, open_now: bool = True) -> None:
        """Start the queue; with ``open_now=False`` nothing is sent until ``open()`` (the channels are up)."""
        self._scan_at = self._clock.now()
        self._runner = asyncio.create_task(self._run(), name="outbox")
        if open_now:
            self.open()

    def open(self) -> None:
        self._open.set()

    async def aclose(self, drain_s: float = 5.0) -> None:
        """Deliver what is queued (bounded by ``drain_s``), then stop; unsent rows stay pending for the next start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_s
        while self._open.is_set() and (busy := [t for t in self._tasks.values() if not t.done()]):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await asyncio.wait(busy, timeout=remaining)
        self._closing = True
        self._wake.set()
        tasks = list(self._tasks.values())
        everything = [*tasks, *([self._runner] if self._runner else [])]
        for task in everything:
            task.cancel()
        await asyncio.gather(*everything, return_exceptions=True)

    # ---- the table: at start, and when retries come due ----------------------------------------------------
    async def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            if self._scan_at is not None and self._scan_at <= self._clock.now():
                self._scan_at = None
                try:
                    await self._scan()
                except Exception:
                    log.exception("outbox: reading the queue failed; retrying")
                    self._retry_at(self._clock.now() + timedelta(seconds=2))
            if self._shared:
                # Another process's replies are left to it until its claim expires or it dies: look again.
                # With other processes on the table, it is read now and then for replies nobody sends (their
                # process died before sending them).
                self._retry_at(self._clock.now() + timedelta(seconds=self._shared_scan_s))
                self._wake.clear()
            await self._clock.sleep_until(self._scan_at or self._clock.now() + timedelta(days=1), self._wake)

    async def _scan(self) -> None:
        now = self._clock.now()
        settled: set[int] = set()
        self._settled = settled
        try:
            async with self._db.session() as s:
                # Only the channels this process runs: a console session beside the daemon leaves the daemon's rows.
                rows = (await s.execute(select(Message).where(
                    Message.direction == "out", Message.status == "pending",
                    Message.channel.in_(list(self._channels))).order_by(Message.id))).scalars().all()
        finally:
            self._settled = None
        blocked: set[ChatKey] = set()
        self._blocked = blocked
        for row in rows:
            key = (row.channel, row.chat_id)
            if key in blocked:
                continue
            if row.id in settled:
                continue  # sent (or rescheduled) while this scan was reading: its row state here is stale
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                blocked.add(key)  # keep the chat's order: nothing after a waiting reply goes first
                self._retry_at(row.next_attempt_at)
                continue
            self._push(_queued(row))

    def _retry_at(self, when: datetime) -> None:
        if self._scan_at is None or when < self._scan_at:
            self._scan_at = when
        self._wake.set()

    # ---- delivery ------------------------------------------------------------------------------------------
    async def _deliver_chat(self, key: ChatKey) -> None:
        await self._open.wait()
        if self._shared:
            await self._deliver_claimed(key)
            return
        queue = self._queues[key]
        while queue and not self._closing:
            item = queue.popleft()
            try:
                delivered = await self._deliver_one(item)
            finally:
                if self._settled is not None:
                    self._settled.add(item.row_id)
                self._queued_ids.discard(item.row_id)
            if not delivered:
                # Failed and rescheduled: the rest of this chat waits for it (the scan brings them back in order).
                for rest in queue:
                    self._queued_ids.discard(rest.row_id)
                queue.clear()
        if not queue:
            self._queues.pop(key, None)

    async def _deliver_claimed(self, key: ChatKey) -> None:
        """Shared table: the memory queue only says "look at this chat"; what is sent is the chat's oldest pending
        reply, locked for the length of its send (see the module docstring), one after the other."""
        while not self._closing:
            queue = self._queues.pop(key, deque())
            for item in queue:
                self._queued_ids.discard(item.row_id)
            async with self._locked_sends:
                sent = await self._send_head(key)
            if sent is None:
                if not self._queues.get(key):
                    return  # nothing pending, or another process sends this chat (and takes the rest after)
                continue
            if not sent:
                return  # failed and rescheduled: the scan at its retry time resumes the chat in order

    async def _send_head(self, key: ChatKey) -> bool | None:
        """Send the chat's oldest pending reply if it is due and no other process holds it. None: nothing sent."""
        pending = (Message.direction == "out", Message.status == "pending", Message.channel == key[0],
                   Message.chat_id == key[1])
        async with self._db.session() as s:
            head = (await s.execute(select(Message.id, Message.next_attempt_at).where(*pending)
                                    .order_by(Message.id).limit(1))).first()
            if head is None:
                return None
            if head.next_attempt_at is not None and head.next_attempt_at > self._clock.now():
                self._retry_at(head.next_attempt_at)  # waiting for its retry: the chat waits behind it
                return None
            row = (await s.execute(select(Message).where(Message.id == head.id, *pending)
                                   .with_for_update(skip_locked=True))).scalar_one_or_none()
            if row is None:
                return None  # locked: another process is sending it right now
            item = _queued(row)
            self._queued_ids.add(item.row_id)
            try:
                # The row stays locked until this transaction ends: with the send's record, or its failure.
                return await self._deliver_one(item, locked=s)
            finally:
                if self._settled is not None:
                    self._settled.add(item.row_id)
                self._queued_ids.discard(item.row_id)

    async def _deliver_one(self, item: Queued, locked: AsyncSession | None = None) -> bool:
        """Send one reply and record the outcome; ``locked``: the transaction holding its row (shared table)."""
        channel = self._channels[item.reply.channel]
        try:
            ref = await channel.send(item.reply)
        except RateLimited as exc:
            await self._fail(item, str(exc), permanent=False, delay=max(exc.retry_after, 0.05), counts=False,
                             locked=locked)
            return False
        except SendFailed as exc:
            await self._fail(item, str(exc), permanent=exc.permanent, locked=locked)
            return False
        except ChannelError as exc:
            await self._fail(item, str(exc), permanent=False, locked=locked)
            return False
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("outbox: %s send failed unexpectedly", item.reply.channel)
            await self._fail(item, type(exc).__name__, permanent=False, locked=locked)
            return False
        if locked is None:
            await self._record_sent(item, ref)
        else:
            await locked.execute(_SENT, self._sent_values(item, ref))  # committed as the lock is let go
        for hook in self.sent_hooks:
            try:
                await hook(item, ref)
            except Exception:
                log.exception("outbox: sent hook failed")
        return True

    async def _record_sent(self, item: Queued, ref: SentRef) -> None:
        """The platform has it: record that, retrying a failing write (a lost record means a second send)."""
        for attempt in range(RECORD_ATTEMPTS):
            try:
                await self._write_sent(item, ref)
                return
            except Exception:
                log.exception("outbox: recording message %s as sent failed (attempt %d)", item.row_id, attempt + 1)
                await asyncio.sleep(0.2 * 2**attempt)

    async def _write_sent(self, item: Queued, ref: SentRef) -> None:
        async with self._db.transaction() as s:
            await s.execute(_SENT, self._sent_values(item, ref))

    def _sent_values(self, item: Queued, ref: SentRef) -> dict[str, object]:
        return {
            "row_id": item.row_id, "to_attempts": item.attempts + 1,
            "to_platform_id": ref.platform_message_ids[0] if ref.platform_message_ids else None,
            "at": self._clock.now(),
            "to_extra": {"mention_user_ids": list(item.reply.mention_user_ids),
                         "mention_names": list(item.reply.mention_names),
                         "parts": list(ref.platform_message_ids), **_files_extra(item.reply)},
        }

    async def _fail(self, item: Queued, error: str, *, permanent: bool, delay: float | None = None,
                    counts: bool = True, locked: AsyncSession | None = None) -> None:
        attempts = item.attempts + 1 if counts else item.attempts
        dead = permanent or attempts >= self._max_attempts
        wait = delay if delay is not None else _backoff(attempts)
        next_at = self._clock.now() + timedelta(seconds=wait)
        change = update(Message).where(Message.id == item.row_id).values(
            status="dead" if dead else "pending", last_error=error[:500], attempts=attempts,
            next_attempt_at=None if dead else next_at)
        if locked is not None:
            await locked.execute(change)  # the transaction that holds the row's lock
        else:
            async with self._db.session() as s:
                await s.execute(change)
        if dead:
            log.warning("outbox: message %s to %s dead-lettered: %s", item.row_id, item.reply.channel, error[:200])
        else:
            log.info("outbox: message %s to %s retries in %.1fs: %s", item.row_id, item.reply.channel, wait,
                     error[:200])
        # Other replies of this chat wait behind it; the scan at next_at (or now, for a dead one) resumes them.
        if not dead:
            self._blocked.add((item.reply.channel, item.reply.chat_id))
        self._retry_at(self._clock.now() if dead else next_at)

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
        self._retry_at(self._clock.now())
        return changed
