"""Dispatch: from a stored message to a reply in the outbox. Decides who speaks, whether to answer, and runs the
turn in that member's lane (one turn at a time per sub-agent, members in parallel).

A burst of messages from one member folds into one turn: a message that arrives while the member's turn is still
thinking (no tool has run yet, within the burst window) cancels that turn and restarts it with both messages. Later
messages queue for the next turn.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from assistant.agent import Agents, TurnRequest, TurnResult
from assistant.commands import CommandContext, CommandRegistry, parse_command
from assistant.inbox import Inbox, to_inbound
from assistant.intents import answer_without_model
from assistant.media.intake import Received
from assistant.members import Directory
from assistant.messages import ChatKind, Inbound, MemberScope, Reply, utcnow
from assistant.outbox import Outbox
from channels.base import Channel, DirectMessages, Reacts

__all__ = ["Dispatcher", "LaneLeases", "parse_delegation"]

log = logging.getLogger(__name__)

_DELEGATION = (
    re.compile(r"^\s*(?:please\s+)?ask\s+@?(?P<name>[\w.\-]+?)['’]s\s+(?:agent|assistant|bot)\s+(?:to\s+)?(?P<task>.+)$",
               re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*(?:请|让|叫)\s*@?(?P<name>[\w.\-]+?)\s*的\s*(?:助手|助理|agent)\s*(?P<task>.+)$", re.DOTALL),
)

INTAKE_ATTEMPTS = 3
ANSWER_ATTEMPTS = 4
FAILED_TURN_REPLY = "Something went wrong while answering; it has been logged. Please try again."
# Said in the group when the answer drew on the member's private memory and went to their direct chat instead.
DIRECT_ANSWER_NOTE = ("I answered you in a direct message: the answer uses what you told me privately. (If it does "
                      "not arrive, open a direct chat with me first.)")


def parse_delegation(text: str) -> tuple[str, str] | None:
    """'ask Alice's agent to draft the notes' -> ('Alice', 'draft the notes')."""
    for pattern in _DELEGATION:
        match = pattern.match(text)
        if match:
            return match.group("name"), match.group("task").strip()
    return None


@dataclass
class _Item:
    message_id: int
    inbound: Inbound
    scope: MemberScope
    delegated_by: str | None = None
    requester_ids: tuple[str, ...] = ()
    requester_names: tuple[str, ...] = ()
    text: str | None = None


class LaneLeases(Protocol):
    """Lanes shared by several processes (PostgreSQL, see ``assistant.lanes``): a lane runs only where its lease is
    held. Without it (SQLite, one process) lanes live in this process's memory alone."""

    async def acquire(self, key: str) -> None: ...  # waits until this process holds the lane

    async def release(self, key: str) -> None: ...

    async def unanswered(self, message_ids: list[int]) -> set[int]: ...  # the ones no process answered yet


@dataclass
class _Lane:
    items: list[_Item] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Dispatcher:
    def __init__(self, *, inbox: Inbox, directory: Directory, agents: Agents, commands: CommandRegistry,
                 outbox: Outbox, channels: Mapping[str, Channel], services: object, burst_window_s: float,
                 max_concurrent_turns: int, working_after_s: float = 0.0,
                 lane_leases: LaneLeases | None = None) -> None:
        self._inbox = inbox
        self._directory = directory
        self._agents = agents
        self._commands = commands
        self._outbox = outbox
        self._channels = channels
        self._services = services
        self._burst_s = burst_window_s
        self._working_after_s = working_after_s
        self._turn_slots = asyncio.Semaphore(max_concurrent_turns)
        self._lanes: dict[str, _Lane] = {}
        self._sender_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._lane_leases = lane_leases
        # Message ids in this process's hands (being taken, queued in a lane, or in a running turn).
        self._intaking: set[int] = set()
        self._running: set[int] = set()
        # member id -> (name, last activity, running): what the dashboard shows of each sub-agent.
        self._activity: dict[int, tuple[str, datetime, bool]] = {}

    # ---- intake ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        for message_id in await self._inbox.pending():
            self.submit(message_id)

    def submit(self, message_id: int, msg: Inbound | None = None) -> None:
        """Take a stored message (``msg`` saves reading it back when the caller has it at hand)."""
        if self._closing:
            return  # stays 'received' in the table; the next start takes it
        if self._lane_leases is not None and self.holds(message_id):
            return  # adopted from the table while this process has it already
        self._intaking.add(message_id)
        self._spawn(self._intake(message_id, msg), f"intake:{message_id}")

    def holds(self, message_id: int) -> bool:
        """Whether this process has the message in hand (the adopter leaves those alone)."""
        return (message_id in self._intaking or message_id in self._running
                or any(i.message_id == message_id for lane in self._lanes.values() for i in lane.items))

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dispatch task %s failed", task.get_name(), exc_info=task.exception())

    def subagents(self) -> list[dict[str, object]]:
        return [{"member_id": member_id, "name": name, "last_activity_at": at.isoformat(), "running": running}
                for member_id, (name, at, running) in sorted(self._activity.items())]

    def _active(self, scope: MemberScope, running: bool) -> None:
        self._activity[scope.member_id] = (scope.member_name, utcnow(), running)

    @property
    def queue_depth(self) -> int:
        return sum(len(lane.items) for lane in self._lanes.values()) + len(self._tasks)

    async def _intake(self, message_id: int, msg: Inbound | None) -> None:
        try:
            await self._take(message_id, msg)
        finally:
            self._intaking.discard(message_id)

    async def _take(self, message_id: int, msg: Inbound | None) -> None:
        if msg is None:
            row = await self._inbox.load(message_id)
            if row is None or row.status not in ("received", "processing"):
                return
            msg = to_inbound(row)
        # One sender's messages are taken in arrival order, so a burst folds in the order it was written.
        lock = self._sender_locks.setdefault((msg.channel, msg.sender_id), asyncio.Lock())
        async with lock:
            for attempt in range(INTAKE_ATTEMPTS):
                try:
                    await self._route(message_id, msg)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("taking message %s failed (attempt %d)", message_id, attempt + 1)
                    await asyncio.sleep(0.1 * 2**attempt)
            await self._inbox.mark([message_id], "failed")

    async def _route(self, message_id: int, msg: Inbound) -> None:
        if msg.sender_is_bot:
            await self._inbox.mark([message_id], "ignored")
            return
        access = await self._directory.check(msg)
        if access.scope is None:
            if access.pairing_code and msg.chat_kind is ChatKind.DIRECT:
                await self._answer(msg, [message_id], None,
                                   f"Hi! I only work for members of this team. Ask an admin to approve you with "
                                   f"/pair {access.pairing_code}")
            else:
                await self._inbox.mark([message_id], "ignored")
            return
        scope = access.scope
        command = parse_command(msg.text) if msg.addressed else None
        if command is not None:
            name, args = command
            ctx = CommandContext(scope=scope, services=self._services, inbound=msg)  # type: ignore[arg-type]
            text = await self._commands.run(name, args, ctx)
            await self._answer(msg, [message_id], scope.member_id, text)
            return
        if not msg.addressed:
            # Not for us, but part of the group's conversation that every sub-agent may see.
            await self._inbox.mark([message_id], "ignored", member_id=scope.member_id)
            return
        if access.reason:
            await self._answer(msg, [message_id], scope.member_id, f"Not active here yet: {access.reason}.")
            return
        # Plain words the parsers read ("remind me every weekday at 9am to ...") are done here, with no model.
        ctx = CommandContext(scope=scope, services=self._services, inbound=msg)  # type: ignore[arg-type]
        plain = await answer_without_model(ctx, self._commands)
        if plain is not None:
            await self._answer(msg, [message_id], scope.member_id, plain)
            return
        item = _Item(message_id, msg, scope)
        delegation = parse_delegation(msg.text) if msg.chat_kind is ChatKind.GROUP else None
        if delegation is not None:
            target = await self._directory.find(delegation[0])
            if target is not None and target.id != scope.member_id:
                target_scope = replace(scope, member_id=target.id, member_name=target.name, is_admin=False,
                                       private=scope.private or target.private)
                target_ids = tuple(await self._directory.platform_ids(target.id, msg.channel))
                item = _Item(message_id, msg, target_scope, delegated_by=scope.member_name,
                             requester_ids=(msg.sender_id, *target_ids[:1]),
                             requester_names=(msg.sender_name, target.name), text=delegation[1])
        lane = self._lanes.setdefault(item.scope.session_key, _Lane())
        lane.items.append(item)
        lane.arrived.set()
        self._ensure_lane_task(item.scope.session_key, lane)

    def _ensure_lane_task(self, key: str, lane: _Lane) -> None:
        if lane.task is None or lane.task.done():
            lane.task = asyncio.create_task(self._run_lane(key, lane), name=f"lane:{key}")
            self._tasks.add(lane.task)  # type: ignore[arg-type]
            lane.task.add_done_callback(self._finished)  # type: ignore[arg-type]

    # ---- the member's lane -------------------------------------------------------------------------------
    async def _run_lane(self, key: str, lane: _Lane) -> None:
        leases = self._lane_leases
        try:
            if leases is not None:
                await leases.acquire(key)
            while lane.items and not self._closing:
                batch = self._take_batch(lane)
                lane.arrived.clear()
                ids = [i.message_id for i in batch]
                self._running.update(ids)
                try:
                    if leases is not None:
                        # Another process may have answered some while this one waited for the lease.
                        open_ids = await leases.unanswered(ids)
                        batch = [i for i in batch if i.message_id in open_ids]
                    if batch:
                        await self._run_batch(lane, batch)
                finally:
                    self._running.difference_update(ids)
        finally:
            if leases is not None:
                await _release(leases, key)
            if not lane.items:
                self._lanes.pop(key, None)
            elif leases is not None and not self._closing and lane.task is asyncio.current_task():
                # Items arrived while the lease was being released: this task is ending, so start the next one.
                lane.task = None
                self._ensure_lane_task(key, lane)

    @staticmethod
    def _take_batch(lane: _Lane) -> list[_Item]:
        """The member's own queued messages fold into one turn; a task delegated to them is a turn of its own."""
        if lane.items[0].delegated_by is not None:
            return [lane.items.pop(0)]
        count = next((n for n, item in enumerate(lane.items) if item.delegated_by is not None), len(lane.items))
        batch, lane.items[:] = lane.items[:count], lane.items[count:]
        return batch

    async def _run_batch(self, lane: _Lane, batch: list[_Item]) -> None:
        committed = asyncio.Event()
        self._active(batch[-1].scope, True)
        async with self._turn_slots:
            started = time.monotonic()
            # One event wakes this loop: a message arriving in the lane, or the turn ending (its done callback).
            turn = self._start_turn(batch, committed, lane)
            working = _Indicator(self._working, batch[-1].inbound)
            working.schedule(self._working_after_s)
            try:
                while True:
                    await lane.arrived.wait()
                    lane.arrived.clear()
                    if turn.done():
                        break
                    foldable = [i for i in lane.items if i.delegated_by is None and batch[0].delegated_by is None]
                    if (not committed.is_set() and foldable and len(foldable) == len(lane.items)
                            and time.monotonic() - started <= self._burst_s):
                        turn.cancel()
                        await asyncio.gather(turn, return_exceptions=True)
                        batch = batch + lane.items[:]
                        lane.items.clear()
                        turn = self._start_turn(batch, committed, lane)
                result = turn.result()
            except asyncio.CancelledError:
                turn.cancel()
                raise
            except Exception:
                log.exception("turn failed for %s", batch[-1].scope.session_key)
                result = TurnResult(text=FAILED_TURN_REPLY)
            finally:
                await working.end()
                self._active(batch[-1].scope, False)
        last = batch[-1]
        mention_ids = last.requester_ids or ((last.inbound.sender_id,) if last.scope.chat_kind is ChatKind.GROUP
                                             else ())
        mention_names = last.requester_names or ((last.inbound.sender_name,) if mention_ids else ())
        request = self._request(batch)
        for attempt in range(ANSWER_ATTEMPTS):
            try:
                await self._answer(last.inbound, [i.message_id for i in batch], last.scope.member_id, result.text,
                                   mention_ids=mention_ids, mention_names=mention_names,
                                   also=functools.partial(self._agents.save_turn, req=request, result=result),
                                   direct_chat_id=result.direct_chat_id)
                break
            except Exception:
                # Nothing of it was kept (reply and transcript are one transaction): write it again, and after
                # the last attempt leave the messages to be taken again at the next start.
                log.exception("storing the answer for %s failed (attempt %d)", last.scope.session_key, attempt + 1)
                if attempt == ANSWER_ATTEMPTS - 1:
                    return
                await asyncio.sleep(0.2 * 2**attempt)
        await self._agents.after_turn(request, result)

    def _start_turn(self, batch: list[_Item], committed: asyncio.Event, lane: _Lane) -> asyncio.Task[TurnResult]:
        turn = asyncio.create_task(self._turn(batch, committed))
        turn.add_done_callback(lambda _: lane.arrived.set())
        return turn

    def _request(self, batch: list[_Item]) -> TurnRequest:
        last = batch[-1]
        text = "\n".join(_with_attachments(i.text or i.inbound.text, i.inbound) for i in batch)
        needs = frozenset(_NEEDS[a.kind] for i in batch for a in i.inbound.attachments if a.kind in _NEEDS)
        # Where an answer drawing on the member's private memory may go instead of the group: their direct chat,
        # on a platform whose bot can start one (a Telegram user's id is their private chat with the bot; Feishu
        # sends to an open_id).
        direct = None
        channel = self._channels.get(last.inbound.channel)
        if (last.scope.chat_kind is ChatKind.GROUP and last.delegated_by is None
                and isinstance(channel, DirectMessages)):
            direct = channel.direct_chat(last.inbound.sender_id)
        return TurnRequest(scope=last.scope, text=text, sent_at=batch[0].inbound.sent_at,
                           inbound_ids=tuple(i.message_id for i in batch), needs=needs,
                           delegated_by=last.delegated_by, direct_chat_id=direct,
                           attachments=tuple(Received(i.inbound.platform_message_id, a)
                                             for i in batch for a in i.inbound.attachments))

    async def _turn(self, batch: list[_Item], committed: asyncio.Event) -> TurnResult:
        return await self._agents.turn(self._request(batch), on_commit=committed.set)

    async def _working(self, msg: Inbound, on: bool) -> None:
        channel = self._channels.get(msg.channel)
        if isinstance(channel, Reacts):
            try:
                await channel.working(msg, on)
            except Exception:
                log.debug("working indicator failed on %s", msg.channel, exc_info=True)

    async def _answer(self, msg: Inbound, message_ids: list[int], member_id: int | None, text: str, *,
                      mention_ids: tuple[str, ...] = (), mention_names: tuple[str, ...] = (),
                      also: Callable[[AsyncConnection], Awaitable[None]] | None = None,
                      direct_chat_id: str | None = None) -> None:
        key = f"in:{message_ids[-1]}"
        direct: Reply | None = None
        if direct_chat_id is not None:
            # The answer draws on the member's private memory: it goes to their direct chat, the group gets a line.
            direct = Reply(channel=msg.channel, chat_id=direct_chat_id, text=text, idempotency_key=f"{key}:direct")
            text = DIRECT_ANSWER_NOTE
        reply = Reply(channel=msg.channel, chat_id=msg.chat_id, text=text, idempotency_key=key,
                      thread_id=msg.thread_id, reply_to_message_id=msg.platform_message_id or None,
                      mention_user_ids=mention_ids, mention_names=mention_names)
        await self._outbox.answer(reply, member_id, message_ids, also=also, first=direct)

    # ---- shutdown ----------------------------------------------------------------------------------------
    async def aclose(self, drain_s: float) -> None:
        """Stop taking messages; let turns in flight finish for up to ``drain_s``, then park the rest (they stay
        in the table as received/processing and run again at the next start)."""
        self._closing = True
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=drain_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


async def _release(leases: LaneLeases, key: str) -> None:
    try:
        await leases.release(key)
    except Exception:
        log.warning("releasing lane %s failed; its lease expires by itself", key, exc_info=True)


class _Indicator:
    """The channel's "working" sign for one turn, shown only once the turn has run ``after_s``: a quick answer
    needs none (and spares the platform a call or two). Once shown, it is always taken back."""

    def __init__(self, working: Callable[[Inbound, bool], Coroutine[Any, Any, None]], msg: Inbound) -> None:
        self._working = working
        self._msg = msg
        self._timer: asyncio.TimerHandle | None = None
        self._shown: asyncio.Task[None] | None = None

    def schedule(self, after_s: float) -> None:
        if after_s <= 0:
            self._show()
        else:
            self._timer = asyncio.get_running_loop().call_later(after_s, self._show)

    def _show(self) -> None:
        self._shown = asyncio.create_task(self._working(self._msg, True))

    async def end(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._shown is not None:
            await asyncio.gather(self._shown, return_exceptions=True)
            await self._working(self._msg, False)


_NEEDS = {"image": "vision", "audio": "audio", "video": "video"}


def _with_attachments(text: str, msg: Inbound) -> str:
    """The message text with a line per attachment, so the model knows what the member sent."""
    notes = [f"[attached {a.kind}{': ' + a.name if a.name else ''}]" for a in msg.attachments]
    return "\n".join([text, *notes]) if notes else text
