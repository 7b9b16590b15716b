"""Member display names for Feishu open_ids: the contact API behind an in-memory TTL cache.

Feishu events carry no sender name, only ids. Names seen in mentions are remembered for free; a miss asks the
contact API once. Without the contact:user.base:readonly scope (error 99991672) the lookup is switched off for a
while and the mention name (or nothing) is used, so a missing permission costs one request, not one per message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from assistant.errors import ChannelError

from .api import FeishuApiError

__all__ = ["NO_CONTACT_PERMISSION", "NameDirectory"]

log = logging.getLogger(__name__)

NO_CONTACT_PERMISSION = 99991672
NAME_TTL_S = 6 * 3600.0
FAILURE_TTL_S = 300.0
MAX_NAMES = 10_000

LookupName = Callable[[str], Awaitable[str]]


class NameDirectory:
    def __init__(self, lookup: LookupName, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup = lookup
        self._clock = clock
        self._names: dict[str, tuple[str, float]] = {}  # open_id -> (name, expires_at)
        self._disabled_until = 0.0

    def remember(self, open_id: str, name: str) -> None:
        """A name learnt elsewhere (a mention). Kept only when the contact API has not given a better one."""
        if open_id and name and open_id not in self._names:
            self._store(open_id, name, NAME_TTL_S)

    async def name_of(self, open_id: str) -> str:
        now = self._clock()
        cached = self._names.get(open_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        if now < self._disabled_until:
            return cached[0] if cached else ""
        try:
            name = await self._lookup(open_id)
        except FeishuApiError as exc:
            if exc.code == NO_CONTACT_PERMISSION:
                log.warning("feishu contact lookup denied (99991672): grant contact:user.base:readonly to show "
                            "member names; using mention names meanwhile")
                self._disabled_until = now + NAME_TTL_S
            else:
                self._disabled_until = now + FAILURE_TTL_S
            return cached[0] if cached else ""
        except ChannelError:
            self._disabled_until = now + FAILURE_TTL_S
            return cached[0] if cached else ""
        if name:
            self._store(open_id, name, NAME_TTL_S)
        return name or (cached[0] if cached else "")

    def _store(self, open_id: str, name: str, ttl: float) -> None:
        if len(self._names) >= MAX_NAMES:
            self._names.pop(next(iter(self._names)))
        self._names[open_id] = (name, self._clock() + ttl)
