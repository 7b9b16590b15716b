"""The one retry function of teamclaw: exponential backoff with full jitter that honours ``retry_after``.

Providers, the outbox and the channels all retry through ``with_retries``; what counts as transient is the
caller's predicate, so this module knows no wire format.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from assistant.errors import ProviderTimeout, ProviderUnavailable, RateLimited, SendFailed

__all__ = ["backoff_delay", "is_transient", "with_retries"]

log = logging.getLogger(__name__)

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]


def is_transient(exc: BaseException) -> bool:
    """The default predicate: failures a later attempt may not meet (overload, rate limit, lost socket)."""
    if isinstance(exc, SendFailed) and not isinstance(exc, RateLimited):
        return not exc.permanent
    return isinstance(exc, ProviderUnavailable | ProviderTimeout | RateLimited)


def _retry_after(exc: BaseException) -> float | None:
    value = getattr(exc, "retry_after", None)
    if isinstance(value, int | float) and value >= 0:
        return float(value)
    return None


def backoff_delay(attempt: int, *, base_delay: float, max_delay: float, rng: random.Random | None = None) -> float:
    """Full jitter (a uniform pick in [0, min(max, base * 2**attempt))): spreads a crowd of retriers apart."""
    ceiling = min(max_delay, base_delay * (2 ** max(attempt - 1, 0)))
    return (rng or random).uniform(0.0, ceiling)


async def with_retries(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    retry_on: Callable[[BaseException], bool] = is_transient,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> T:
    """Await ``fn()`` up to ``attempts`` times in all, retrying when ``retry_on(exc)`` is true.

    Between attempts it waits the error's ``retry_after`` when it carries one, else a full-jitter exponential
    delay. A ``retry_after`` longer than ``max_delay`` ends the retries at once: waiting longer than the
    caller allows is the caller's decision (the outbox can reschedule a send, a turn cannot wait an hour).
    The last error is re-raised unchanged, with a note saying how many attempts were made. ``CancelledError``
    and other ``BaseException``s are never caught.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    attempt = 1
    while True:
        try:
            return await fn()
        except Exception as exc:
            if attempt >= attempts or not retry_on(exc):
                if attempt > 1:
                    exc.add_note(f"gave up after {attempt} attempts")
                raise
            hinted = _retry_after(exc)
            if hinted is not None and hinted > max_delay:
                exc.add_note(f"retry_after {hinted:.0f} s exceeds the {max_delay:.0f} s this caller waits")
                raise
            delay = (
                hinted
                if hinted is not None
                else backoff_delay(attempt, base_delay=base_delay, max_delay=max_delay, rng=rng)
            )
            log.warning(
                "attempt %d/%d failed (%s: %s); retrying in %.2f s",
                attempt,
                attempts,
                type(exc).__name__,
                exc,
                delay,
            )
            await sleep(delay)
            attempt += 1
