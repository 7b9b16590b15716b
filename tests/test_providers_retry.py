"""with_retries: the one retry function, driven with a recording sleep instead of wall time."""

from __future__ import annotations

import asyncio
import random

import pytest

from assistant.errors import ProviderAuthError, ProviderUnavailable, RateLimited, SendFailed
from assistant.providers.retry import backoff_delay, is_transient, with_retries


class SleepRecorder:
    """Stands in for asyncio.sleep: records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class Flaky:
    """Fails with the given errors in order, then answers."""

    def __init__(self, *errors: Exception, answer: str = "done") -> None:
        self.errors = list(errors)
        self.calls = 0
        self.answer = answer

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.answer


async def test_transient_failures_are_retried_until_success() -> None:
    sleep = SleepRecorder()
    fn = Flaky(ProviderUnavailable("busy"), ProviderUnavailable("busy"))
    assert await with_retries(fn, attempts=3, sleep=sleep) == "done"
    assert fn.calls == 3
    assert len(sleep.delays) == 2


async def test_gives_up_after_attempts_with_a_note() -> None:
    sleep = SleepRecorder()
    fn = Flaky(*(ProviderUnavailable("busy") for _ in range(5)))
    with pytest.raises(ProviderUnavailable) as info:
        await with_retries(fn, attempts=3, sleep=sleep)
    assert fn.calls == 3
    assert "gave up after 3 attempts" in info.value.__notes__


async def test_non_transient_error_is_raised_at_once() -> None:
    sleep = SleepRecorder()
    fn = Flaky(ProviderAuthError("bad key"))
    with pytest.raises(ProviderAuthError):
        await with_retries(fn, attempts=5, sleep=sleep)
    assert fn.calls == 1
    assert sleep.delays == []


async def test_retry_after_is_honoured_exactly() -> None:
    sleep = SleepRecorder()
    fn = Flaky(ProviderUnavailable("429", retry_after=7.0), RateLimited("flood", retry_after=2.5))
    await with_retries(fn, attempts=3, sleep=sleep)
    assert sleep.delays == [7.0, 2.5]


async def test_retry_after_beyond_max_delay_stops_retrying() -> None:
    sleep = SleepRecorder()
    fn = Flaky(RateLimited("flood", retry_after=3600))
    with pytest.raises(RateLimited) as info:
        await with_retries(fn, attempts=5, max_delay=30.0, sleep=sleep)
    assert fn.calls == 1
    assert sleep.delays == []
    assert any("exceeds" in note for note in info.value.__notes__)


async def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    sleep = SleepRecorder()
    fn = Flaky(*(ProviderUnavailable("busy") for _ in range(6)))
    await with_retries(fn, attempts=7, base_delay=1.0, max_delay=10.0, sleep=sleep, rng=random.Random(4))
    ceilings = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert len(sleep.delays) == 6
    assert all(0.0 <= d <= c for d, c in zip(sleep.delays, ceilings, strict=True))
    # Jitter: the delays are spread, not the same fixed ladder every time.
    assert len(set(sleep.delays)) == 6


def test_backoff_delay_ceiling() -> None:
    rng = random.Random(1)
    picks = [backoff_delay(3, base_delay=0.5, max_delay=30.0, rng=rng) for _ in range(200)]
    assert max(picks) <= 2.0
    assert min(picks) >= 0.0
    assert max(picks) > 1.5  # the whole range is used


async def test_custom_predicate_makes_it_generic() -> None:
    sleep = SleepRecorder()
    fn = Flaky(KeyError("not yet"), answer="found")
    result = await with_retries(fn, attempts=2, retry_on=lambda e: isinstance(e, KeyError), sleep=sleep)
    assert result == "found"


async def test_cancellation_is_never_swallowed() -> None:
    started = asyncio.Event()

    async def hangs() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    task = asyncio.create_task(with_retries(hangs, attempts=3, retry_on=lambda e: True))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_default_predicate() -> None:
    assert is_transient(ProviderUnavailable("x"))
    assert is_transient(RateLimited("x", retry_after=1))
    assert is_transient(SendFailed("x"))
    assert not is_transient(SendFailed("x", permanent=True))
    assert not is_transient(ProviderAuthError("x"))
    assert not is_transient(ValueError("x"))


async def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        await with_retries(Flaky(), attempts=0)
