"""The console channel: the local terminal as a chat, so anyone can try teamclaw with no IM account.

``say`` plays a member writing (in a direct chat, or in a group when ``group`` is given); replies are printed and
handed to whoever waits for them. The interactive loop lives in the CLI (``teamclaw chat``); ``TerminalLines`` reads
what is typed there, and ``is_leave`` says which lines end it (/quit, /exit; Ctrl-D and Ctrl-C end it too).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import uuid
from collections.abc import Callable

from assistant.errors import ChannelError
from assistant.messages import ChatKind, Inbound, Reply, SentRef
from channels.base import Deliver

__all__ = ["LEAVE_WORDS", "ConsoleChannel", "TerminalLines", "is_leave"]

BOT_MENTION = "@bot"
LEAVE_WORDS = frozenset({"/quit", "/exit"})


def is_leave(line: str) -> bool:
    """Whether a typed line ends the chat ("/quit", "/exit", in any case, with or without spaces around)."""
    return line.strip().lower() in LEAVE_WORDS


class TerminalLines:
    """Lines typed in the terminal. Each ``input()`` runs in a daemon thread of its own: a read still waiting when
    Ctrl-C stops the loop must not hold the process open, as it would in asyncio's executor (whose shutdown
    waits for its threads, so the chat would hang until Enter)."""

    async def read(self, prompt: str) -> str | None:
        """The next line, or None at the end of input (Ctrl-D)."""
        loop = asyncio.get_running_loop()
        line: asyncio.Future[str | None] = loop.create_future()

        def settle(value: str | None) -> None:
            if not line.done():
                line.set_result(value)

        def read_one() -> None:
            try:
                value: str | None = input(prompt)
            except (EOFError, KeyboardInterrupt):
                value = None
            try:
                loop.call_soon_threadsafe(settle, value)
            except RuntimeError:
                pass  # the loop closed while this read waited: nobody wants the line any more

        threading.Thread(target=read_one, name="console-input", daemon=True).start()
        return await line


class ConsoleChannel:
    name = "console"

    def __init__(self, *, show: Callable[[Reply], None] | None = None) -> None:
        self._deliver: Deliver | None = None
        self._show = show
        self._ids = itertools.count(1)
        self._waiters: dict[str, asyncio.Future[Reply]] = {}
        self._replies: dict[str, Reply] = {}
        self.sent: list[Reply] = []

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def stop(self) -> None:
        for fut in self._waiters.values():
            fut.cancel()
        self._deliver = None

    async def say(self, user: str, text: str, *, chat: str, group: bool = False,
                  message_id: str | None = None) -> str:
        """Deliver a message as ``user``; returns its platform message id (to wait for the reply)."""
        if self._deliver is None:
            raise ChannelError("console channel is not started")
        mid = message_id or f"{chat}:{next(self._ids)}:{uuid.uuid4().hex[:12]}"
        addressed = (not group) or BOT_MENTION in text or text.lstrip().startswith("/")
        inbound = Inbound(
            channel=self.name, chat_id=chat, chat_kind=ChatKind.GROUP if group else ChatKind.DIRECT,
            sender_id=user, sender_name=user, text=text.replace(BOT_MENTION, "").strip() if group else text,
            platform_message_id=mid, addressed=addressed, chat_title=chat if group else None,
        )
        await self._deliver(inbound)
        return mid

    async def wait_reply(self, message_id: str, timeout: float) -> Reply:
        """The reply to the message with this platform id (raises TimeoutError when none comes in time)."""
        if message_id in self._replies:
            return self._replies.pop(message_id)
        fut = self._waiters.setdefault(message_id, asyncio.get_running_loop().create_future())
        try:
            async with asyncio.timeout(timeout):
                return await fut
        finally:
            self._waiters.pop(message_id, None)
            self._replies.pop(message_id, None)

    async def send(self, reply: Reply) -> SentRef:
        self.sent.append(reply)
        if self._show is not None:
            self._show(reply)
        key = reply.reply_to_message_id or ""
        fut = self._waiters.get(key)
        if fut is not None and not fut.done():
            fut.set_result(reply)
        elif key:
            self._replies[key] = reply
        return SentRef((f"console-out-{uuid.uuid4().hex[:16]}",))
