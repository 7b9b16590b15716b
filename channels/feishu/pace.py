"""A per-chat token bucket in front of Feishu sends: 5 requests a second per group, Feishu's own limit.

Feishu counts 5 QPS per chat across all bots (error 230020 past it); pacing on our side keeps a burst of replies
from ever reaching that wall. One event loop, no locks: each caller reserves a slot and waits for it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["DEFAULT_CHAT_QPS", "ChatPacer"]

DEFAULT_CHAT_QPS = 5.0
_FORGET_AFTER_S = 60.0
_PRUNE_AT = 1024


class ChatPacer:
    def __init__(self, qps: float = DEFAULT_CHAT_QPS, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = qps
        self._burst = qps
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # chat -> (tokens, at)

    def reserve(self, chat_id: str) -> float:
        """Take one token for ``chat_id``; returns how long the caller must wait before using it."""
        now = self._clock()
        tokens, at = self._buckets.get(chat_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate) - 1.0
        self._buckets[chat_id] = (tokens, now)
        if len(self._buckets) > _PRUNE_AT:
            self._prune(now)
        return 0.0 if tokens >= 0 else -tokens / self._rate

    async def wait(self, chat_id: str) -> None:
        delay = self.reserve(chat_id)
        if delay > 0:
            await asyncio.sleep(delay)  # pacing, not polling: the slot is ours once the delay has passed

    def _prune(self, now: float) -> None:
        for chat_id, (_, at) in list(self._buckets.items()):
            if now - at > _FORGET_AFTER_S:
                del self._buckets[chat_id]
