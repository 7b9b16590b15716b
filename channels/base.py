"""The channel seam: a platform adapter turns platform events into ``Inbound`` and ``Reply`` into sends.

Contract:
- ``start(deliver)`` begins receiving. For each event the adapter builds an ``Inbound`` and awaits
  ``deliver(inbound)``; only after it returns may the adapter acknowledge the event to the platform (advance the
  Telegram offset, answer Feishu's HTTP request, ack the websocket frame). ``deliver`` stores the message first,
  so an acknowledged message is never lost. ``deliver`` returns False for duplicates; acknowledge those too.
- ``send(reply)`` delivers one reply (split into parts as the platform's limits require) and returns the
  platform's message ids. It raises ``RateLimited`` (with retry_after) or ``SendFailed`` (permanent or not);
  retries belong to the outbox, not the adapter. Adapters that have an idempotency key (Feishu ``uuid``) derive it
  from ``reply.idempotency_key``.
- ``stop()`` stops receiving and closes what ``start`` opened. The daemon owns the adapter and calls it once.
Extra abilities are separate protocols checked with ``isinstance``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from assistant.messages import Inbound, Reply, SentRef

__all__ = ["Channel", "Deliver", "DirectMessages", "EditsMessages", "Reacts"]

Deliver = Callable[[Inbound], Awaitable[bool]]


@runtime_checkable
class Channel(Protocol):
    name: str

    async def start(self, deliver: Deliver) -> None: ...

    async def send(self, reply: Reply) -> SentRef: ...

    async def stop(self) -> None: ...


@runtime_checkable
class Reacts(Protocol):
    """Shows that a turn is running (Feishu reaction, Telegram typing action)."""

    async def working(self, inbound: Inbound, on: bool) -> None: ...


@runtime_checkable
class DirectMessages(Protocol):
    """The bot can write to a member in a direct chat it did not start: ``direct_chat(user_id)`` is the chat id
    a ``Reply`` uses for that (a Telegram user's id; a Feishu open_id)."""

    def direct_chat(self, user_id: str) -> str: ...


@runtime_checkable
class EditsMessages(Protocol):
    async def edit(self, channel_chat_id: str, platform_message_id: str, text: str) -> None: ...
