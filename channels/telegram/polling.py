"""Long polling that confirms an update only after it was handled (stored): nothing fetched is lost in a crash.

Telegram forgets an update once a getUpdates call passes an offset above its id. PTB's ``Updater`` fetches the
next batch (confirming the last) while the previous one is still being handled; here the offset moves past an
update only after ``handle(update)`` returned. An update whose handling raised is fetched again on the next call,
after a backoff. Pending updates are never dropped at start.

With several processes on one database only the leader polls (``leader``): the others wait for the lease and the
next leader starts at the earliest update Telegram still holds, so what the old one fetched but did not confirm
is fetched again (the inbox drops what was stored already).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Awaitable, Callable, Sequence

from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from assistant.providers.retry import backoff_delay
from channels.leader import Leader

__all__ = ["UpdatePoller", "retry_after_seconds"]

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
FETCH_GRACE_S = 30.0  # on top of the long-poll timeout: a getUpdates that takes longer is a dead connection
STOP_GRACE_S = 10.0  # how long stop() lets an update being handled finish before cancelling it

HandleUpdate = Callable[[Update], Awaitable[None]]


def retry_after_seconds(exc: RetryAfter) -> float:
    """``retry_after`` in seconds, without PTB's warning about the attribute becoming a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


class UpdatePoller:
    """Owns the polling task: ``start()`` launches it, ``stop()`` ends it and awaits it."""

    def __init__(
        self, bot: Bot, handle: HandleUpdate, *, poll_timeout_s: int, allowed_updates: Sequence[str],
        leader: Leader | None = None,
    ) -> None:
        self._leader = leader
        self._bot = bot
        self._handle = handle
        self._poll_timeout_s = poll_timeout_s
        self._allowed_updates = list(allowed_updates)
        self._stopping = asyncio.Event()
        self._fetching = False
        self._task: asyncio.Task[None] | None = None
        self._fetch_failures = 0
        self._handle_failures = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="telegram-polling")
        self._task.add_done_callback(_report_crash)

    async def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop fetching; an update being handled may finish (up to ``grace_s``) so it is confirmed next time."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is None:
            return
        if self._fetching:
            task.cancel()  # a fetch in flight (or a wait for the lease) confirms nothing: safe to abandon
        done, _ = await asyncio.wait({task}, timeout=grace_s)
        if not done:
            log.warning("telegram: an update was still being handled after %.0f s; cancelling it", grace_s)
            task.cancel()
            await asyncio.wait({task})
        if self._leader is not None:
            await self._leader.step_down()  # a standby process takes over now, not when the lease expires

    async def _run(self) -> None:
        leader = self._leader
        if leader is None:
            await self._poll()
            return
        while not self._stopping.is_set():
            self._fetching = True
            try:
                await leader.wait()
            finally:
                self._fetching = False
            log.info("telegram: this process polls the bot now (it holds the lease)")
            poll = asyncio.create_task(self._poll(), name="telegram-polling-leader")
            lost = asyncio.create_task(leader.lost.wait(), name="telegram-leader-lost")
            try:
                await asyncio.wait({poll, lost}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (poll, lost):
                    task.cancel()
                await asyncio.gather(poll, lost, return_exceptions=True)
            if leader.lost.is_set():
                log.warning("telegram: another process took over polling; standing by")

    async def _poll(self) -> None:
        offset: int | None = None  # None: start at the earliest update Telegram still holds for us
        while not self._stopping.is_set():
            updates = await self._fetch(offset)
            for update in updates:
                try:
                    await self._handle(update)
                except Exception:  # loop boundary: the update stays unconfirmed and comes back
                    log.exception("telegram: update %d could not be handled; fetching it again", update.update_id)
                    self._handle_failures += 1
                    await self._back_off(self._handle_failures)
                    break
                offset = update.update_id + 1
                self._handle_failures = 0

    async def _fetch(self, offset: int | None) -> tuple[Update, ...]:
        self._fetching = True
        try:
            async with asyncio.timeout(self._poll_timeout_s + FETCH_GRACE_S):
                updates = await self._bot.get_updates(
                    offset=offset, timeout=self._poll_timeout_s, allowed_updates=self._allowed_updates
                )
        except RetryAfter as exc:
            log.warning("telegram: getUpdates rate limited; waiting %.0f s", retry_after_seconds(exc))
            return await self._fetch_failed(retry_after_seconds(exc))
        except Conflict:
            log.error(
                "telegram: getUpdates answered 409 Conflict: another process is polling this bot token, or a "
                "webhook was set after we started. Stop the other instance (or use mode = 'webhook' everywhere)."
            )
            return await self._fetch_failed()
        except InvalidToken:
            log.error("telegram: the bot token was rejected (401); check channels.telegram.token")
            return await self._fetch_failed()
        except (NetworkError, TimeoutError) as exc:
            log.warning("telegram: getUpdates failed (%s); retrying", exc)
            return await self._fetch_failed()
        except TelegramError as exc:
            log.error("telegram: getUpdates failed (%s: %s); retrying", type(exc).__name__, exc)
            return await self._fetch_failed()
        except Exception:  # loop boundary: e.g. an update PTB could not read; keep polling, loudly
            log.exception("telegram: getUpdates answer could not be read; retrying")
            return await self._fetch_failed()
        finally:
            self._fetching = False
        self._fetch_failures = 0
        return updates

    async def _fetch_failed(self, hinted_s: float | None = None) -> tuple[Update, ...]:
        self._fetch_failures += 1
        await self._back_off(self._fetch_failures, hinted_s)
        return ()

    async def _back_off(self, attempt: int, hinted_s: float | None = None) -> None:
        """Wait before the next attempt (full-jitter exponential, or Telegram's hint), less if stop() comes."""
        delay = hinted_s if hinted_s is not None else backoff_delay(
            attempt, base_delay=BACKOFF_BASE_S, max_delay=BACKOFF_MAX_S
        )
        try:
            async with asyncio.timeout(delay):
                await self._stopping.wait()
        except TimeoutError:
            pass


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("telegram: polling stopped unexpectedly", exc_info=task.exception())
