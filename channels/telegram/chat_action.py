"""Keeps "typing…" showing in a chat (or forum topic) while at least one turn there is running.

Telegram shows a chat action for about 5 seconds, so it is resent every few seconds until the last turn in that
place ends. Two members asking in one group share one indicator: it stops when both turns are done.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable

from assistant.errors import ChannelError

__all__ = ["TypingIndicator"]

log = logging.getLogger(__name__)

REFRESH_S = 4.5  # under Telegram's ~5 s display time
MAX_TYPING_S = 300.0  # a turn whose end never arrives must not show "typing" forever

Place = tuple[str, str | None]  # (chat_id, thread_id)
SendTyping = Callable[[str, str | None], Awaitable[None]]


class TypingIndicator:
    def __init__(self, send_typing: SendTyping) -> None:
        self._send_typing = send_typing
        self._holders: dict[Place, set[str]] = {}
        self._tasks: dict[Place, asyncio.Task[None]] = {}

    def hold(self, place: Place, holder: str) -> None:
        """Show typing in ``place`` until ``release(place, holder)``; the first holder starts it at once."""
        self._holders.setdefault(place, set()).add(holder)
        if place not in self._tasks:
            task = asyncio.create_task(self._keep_typing(place), name=f"telegram-typing-{place[0]}")
            task.add_done_callback(functools.partial(self._forget, place))
            self._tasks[place] = task

    def release(self, place: Place, holder: str) -> None:
        holders = self._holders.get(place)
        if holders is None:
            return
        holders.discard(holder)
        if not holders:
            del self._holders[place]
            task = self._tasks.pop(place, None)
            if task is not None:
                task.cancel()

    @property
    def active(self) -> int:
        return len(self._tasks)

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._holders.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _keep_typing(self, place: Place) -> None:
        chat_id, thread_id = place
        try:
            async with asyncio.timeout(MAX_TYPING_S):
                while True:
                    try:
                        await self._send_typing(chat_id, thread_id)
                    except ChannelError as exc:  # cosmetic: a missing indicator must not fail a turn
                        log.info("telegram: typing indicator for chat %s not shown (%s)", chat_id, exc)
                    await asyncio.sleep(REFRESH_S)  # the refresh period, not a wait for a condition
        except TimeoutError:
            log.warning("telegram: typing in chat %s ran %.0f s without the turn ending", chat_id, MAX_TYPING_S)

    def _forget(self, place: Place, task: asyncio.Task[None]) -> None:
        if self._tasks.get(place) is task:
            del self._tasks[place]
            self._holders.pop(place, None)
