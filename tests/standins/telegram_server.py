"""A stand-in Telegram Bot API on 127.0.0.1: real HTTP, Telegram's wire format, driven by python-telegram-bot.

    with FakeTelegram() as tg:
        bot = telegram.Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url)
        tg.push_message(-100123, "supergroup", 42, "Alice", "@teamclaw_bot hello")   # what a member says
        ...
        sent = await tg.wait_for_sent(1)                                           # what the bot said

Paths are ``/bot<TOKEN>/<method>`` and ``/file/bot<TOKEN>/<path>``; parameters arrive form-urlencoded (nested
objects as JSON strings, as PTB sends them), as JSON, or as multipart. A wrong token answers 401.
``getUpdates`` keeps Telegram's offset rule (an update is confirmed, and forgotten, once a later call passes an
offset above its id) and long-polls: it answers as soon as an update is pushed, else after ``timeout``.
Sent text is parsed the way Telegram parses it (see ``telegram_markup``): bad markup, empty or over-long text is
refused with Telegram's 400 answers, and ``SentMessage.text`` holds what a member would see.
Failures are injected with ``fail_next``; ``migrate_chat`` turns a group into a supergroup.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

import httpx

from assistant.messages import Inbound
from tests.standins.telegram_http import BotApiError, handler_for
from tests.standins.telegram_markup import EntityParseError, utf16_units, visible_text

__all__ = ["ChatAction", "EditedMessage", "FakeTelegram", "RecordingDeliver", "SentMessage", "entities_in"]

# Split so secret scanners do not take this stand-in token for a real one.
DEFAULT_TOKEN = "123456789:" + "AAFakeTokenForTheStandInServer_xyz012"
BOT_USER_ID = 123456789
TEXT_LIMIT = 4096
MAX_POLL_S = 50.0
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b")
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(?:@[A-Za-z][A-Za-z0-9_]{3,31})?")


@dataclass(frozen=True, slots=True)
class SentMessage:
    chat_id: int
    text: str  # as a member sees it: markup parsed away
    message_thread_id: int | None
    reply_to_message_id: int | None
    parse_mode: str | None
    message_id: int
    raw_text: str = ""  # as the bot sent it
    document_name: str | None = None
    media: str | None = None  # "photo" | "document" when the bot sent a file
    file_content: bytes | None = field(default=None, repr=False, compare=False)
    received_at: float = field(default_factory=time.perf_counter, compare=False)  # when the stand-in took it


@dataclass(frozen=True, slots=True)
class EditedMessage:
    chat_id: int
    message_id: int
    text: str
    parse_mode: str | None


@dataclass(frozen=True, slots=True)
class ChatAction:
    chat_id: int
    action: str
    message_thread_id: int | None


@dataclass(slots=True)
class _Failure:
    error_code: int
    description: str
    parameters: dict[str, Any] | None
    skip: int = 0  # calls that still succeed before this failure is answered


@dataclass(slots=True)
class _State:
    updates: list[dict[str, Any]] = field(default_factory=list)
    confirmed_offset: int = 0  # every update_id below this has been confirmed by a getUpdates offset
    poll_offsets: list[int | None] = field(default_factory=list)
    chats: dict[int, dict[str, Any]] = field(default_factory=dict)
    topics: set[tuple[int, int]] = field(default_factory=set)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    failures: dict[str, deque[_Failure]] = field(default_factory=dict)
    migrated: dict[int, int] = field(default_factory=dict)
    webhook_url: str = ""
    webhook_secret: str | None = None
    drop_pending_requested: bool = False
    sent: list[SentMessage] = field(default_factory=list)
    edits: list[EditedMessage] = field(default_factory=list)
    chat_actions: list[ChatAction] = field(default_factory=list)
    reactions: list[tuple[int, int, list[dict[str, Any]]]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)


def entities_in(text: str, *, mentions: bool = True, commands: bool = True) -> list[dict[str, Any]]:
    """The entities Telegram itself detects in plain text: @username mentions and a leading /command.

    Offsets and lengths are UTF-16 code units, as on the wire.
    """
    found: list[dict[str, Any]] = []
    if commands and (command := _COMMAND.match(text)):
        found.append({"type": "bot_command", "offset": 0, "length": utf16_units(command.group(0))})
    if mentions:
        for match in _MENTION.finditer(text):
            offset = utf16_units(text[: match.start()])
            found.append({"type": "mention", "offset": offset, "length": utf16_units(match.group(0))})
    return sorted(found, key=lambda e: e["offset"])


class FakeTelegram:
    """The stand-in server. Thread-safe: HTTP handlers run in server threads, tests call in from the loop."""

    def __init__(
        self, *, token: str = DEFAULT_TOKEN, bot_username: str = "teamclaw_bot", bot_name: str = "Teamclaw"
    ) -> None:
        self.token = token
        self.bot_user = {
            "id": BOT_USER_ID, "is_bot": True, "first_name": bot_name, "username": bot_username,
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False,
        }
        self._state = _State()
        self._changed = threading.Condition()
        self._update_ids = itertools.count(10_001)
        self._message_ids = itertools.count(501)
        self._file_ids = itertools.count(1)
        self._closing = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-telegram", daemon=True
        )
        self._thread.start()

    # lifecycle ------------------------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_username(self) -> str:
        return str(self.bot_user["username"])

    def close(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeTelegram:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # what members do --------------------------------------------------------------------------------------------

    def push_message(
        self,
        chat_id: int,
        chat_type: str,
        user_id: int,
        first_name: str,
        text: str,
        *,
        entities: list[dict[str, Any]] | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        chat_title: str | None = None,
        photo: bytes | None = None,
        document: tuple[str, bytes] | None = None,
        voice: bytes | None = None,
        video: tuple[str, bytes] | None = None,
    ) -> dict[str, Any]:
        """Queue a member's message as an update and return it. ``entities=None`` detects mentions/commands
        as Telegram does; a ``photo``, ``document``, ``voice`` note or ``video`` makes ``text`` its caption."""
        update = self.message_update(
            chat_id, chat_type, user_id, first_name, text, entities=entities, thread_id=thread_id,
            reply_to=reply_to, last_name=last_name, username=username, chat_title=chat_title, photo=photo,
            document=document, voice=voice, video=video,
        )
        self.push_raw(update)
        return update

    def message_update(
        self,
        chat_id: int,
        chat_type: str,
        user_id: int,
        first_name: str,
        text: str,
        *,
        entities: list[dict[str, Any]] | None = None,
        thread_id: int | None = None,
        reply_to: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        chat_title: str | None = None,
        photo: bytes | None = None,
        document: tuple[str, bytes] | None = None,
        voice: bytes | None = None,
        video: tuple[str, bytes] | None = None,
    ) -> dict[str, Any]:
        """Build (and remember the message of) an update without queueing it: for webhook deliveries."""
        with self._changed:
            chat = self._chat(chat_id, chat_type, chat_title, first_name, username, forum=thread_id is not None)
            sender: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
            if last_name:
                sender["last_name"] = last_name
            if username:
                sender["username"] = username
            message: dict[str, Any] = {
                "message_id": next(self._message_ids), "from": sender, "chat": chat, "date": int(time.time()),
            }
            found = entities_in(text) if entities is None else entities
            if photo is not None or document is not None or voice is not None or video is not None:
                if text:
                    message["caption"] = text
                if found:
                    message["caption_entities"] = found
                self._attach(message, photo, document)
                self._attach_media(message, voice, video)
            else:
                message["text"] = text
                if found:
                    message["entities"] = found
            if thread_id is not None:
                self._place_in_topic(message, chat_id, thread_id)
            if reply_to is not None:
                message["reply_to_message"] = self._quoted(chat_id, reply_to)
            self._state.messages[(chat_id, message["message_id"])] = message
            return {"update_id": next(self._update_ids), "message": message}

    def push_raw(self, update: dict[str, Any]) -> None:
        with self._changed:
            self._state.updates.append(update)
            self._changed.notify_all()

    def create_topic(self, chat_id: int, name: str, *, creator_id: int = 1, chat_title: str = "Team") -> int:
        """A forum topic in ``chat_id``: its id is the id of its topic-created service message."""
        with self._changed:
            chat = self._chat(chat_id, "supergroup", chat_title, "", None, forum=True)
            thread_id = next(self._message_ids)
            self._state.messages[(chat_id, thread_id)] = {
                "message_id": thread_id, "message_thread_id": thread_id, "date": int(time.time()), "chat": chat,
                "from": {"id": creator_id, "is_bot": False, "first_name": "Creator"},
                "forum_topic_created": {"name": name, "icon_color": 7322096}, "is_topic_message": True,
            }
            self._state.topics.add((chat_id, thread_id))
            return thread_id

    def mention_bot(self, text: str) -> tuple[str, list[dict[str, Any]]]:
        """(text, entities) with a mention of the bot: the first "@<bot>" in ``text``, else one put in front."""
        handle = f"@{self.bot_username}"
        if handle not in text:
            text = f"{handle} {text}"
        start = text.index(handle)
        return text, [{"type": "mention", "offset": utf16_units(text[:start]), "length": utf16_units(handle)}]

    def add_file(self, content: bytes, *, path: str = "documents/file.bin") -> str:
        with self._changed:
            file_id = f"FILE{next(self._file_ids):04d}"
            self._state.files[file_id] = (path, content)
            return file_id

    # what the test arranges -------------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        retry_after: int | None = None,
        description: str | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
        after: int = 0,
    ) -> None:
        """Answer ``times`` calls of ``method`` with this error instead of doing them, once ``after`` more
        calls of it have succeeded."""
        parameters: dict[str, Any] = {}
        if error_code == 429:
            parameters["retry_after"] = 3 if retry_after is None else retry_after
        elif retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        text = description or _default_description(error_code, parameters)
        with self._changed:
            queue = self._state.failures.setdefault(method.lower(), deque())
            queue.extend(
                _Failure(error_code, text, parameters or None, skip=after if i == 0 else 0) for i in range(times)
            )

    def migrate_chat(self, old_chat_id: int, new_chat_id: int, *, announce: bool = False) -> None:
        """The group becomes a supergroup: sends to the old id now answer 400 with ``migrate_to_chat_id``.
        ``announce`` also queues the service message Telegram posts in the old group."""
        with self._changed:
            old = self._state.chats.get(old_chat_id, {"id": old_chat_id, "type": "group", "title": "Team"})
            self._state.chats[new_chat_id] = {"id": new_chat_id, "type": "supergroup", "title": old.get("title")}
            self._state.migrated[old_chat_id] = new_chat_id
        if announce:
            message = {
                "message_id": next(self._message_ids), "date": int(time.time()), "chat": old,
                "from": {"id": 1, "is_bot": False, "first_name": "Admin"}, "migrate_to_chat_id": new_chat_id,
            }
            self.push_raw({"update_id": next(self._update_ids), "message": message})

    # what the test observes -------------------------------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        with self._changed:
            return list(self._state.sent)

    @property
    def edits(self) -> list[EditedMessage]:
        with self._changed:
            return list(self._state.edits)

    @property
    def chat_actions(self) -> list[ChatAction]:
        with self._changed:
            return list(self._state.chat_actions)

    @property
    def confirmed_offset(self) -> int:
        """Every update with a smaller id has been confirmed (and is gone from getUpdates)."""
        with self._changed:
            return self._state.confirmed_offset

    @property
    def pending_updates(self) -> list[int]:
        with self._changed:
            return [u["update_id"] for u in self._state.updates]

    @property
    def poll_offsets(self) -> list[int | None]:
        with self._changed:
            return list(self._state.poll_offsets)

    @property
    def calls(self) -> list[str]:
        with self._changed:
            return list(self._state.calls)

    @property
    def webhook_url(self) -> str:
        with self._changed:
            return self._state.webhook_url

    @property
    def webhook_secret(self) -> str | None:
        with self._changed:
            return self._state.webhook_secret

    @property
    def drop_pending_requested(self) -> bool:
        with self._changed:
            return self._state.drop_pending_requested

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        with self._changed:
            return self._state.messages.get((chat_id, message_id))

    async def wait_for_sent(self, count: int, timeout: float = 5.0) -> list[SentMessage]:
        await self._wait(lambda: len(self._state.sent) >= count, timeout, f"{count} sent messages")
        return self.sent

    async def wait_for_chat_actions(self, count: int, timeout: float = 5.0) -> list[ChatAction]:
        await self._wait(lambda: len(self._state.chat_actions) >= count, timeout, f"{count} chat actions")
        return self.chat_actions

    async def wait_for_confirmed(self, update_id: int, timeout: float = 5.0) -> None:
        await self._wait(lambda: self._state.confirmed_offset > update_id, timeout, f"update {update_id} confirmed")

    async def wait_for_polls(self, count: int, timeout: float = 5.0) -> list[int | None]:
        await self._wait(lambda: len(self._state.poll_offsets) >= count, timeout, f"{count} getUpdates calls")
        return self.poll_offsets

    async def post_webhook(
        self, update: dict[str, Any] | bytes, *, secret_token: str | None = None, use_registered_secret: bool = True,
        url: str | None = None,
    ) -> int:
        """POST ``update`` (or raw bytes) to the webhook as Telegram does; returns the HTTP status.

        By default the secret registered with setWebhook goes in ``X-Telegram-Bot-Api-Secret-Token``;
        pass ``secret_token`` to send another, or ``use_registered_secret=False`` to send none.
        """
        target = url or self.webhook_url
        if not target:
            raise AssertionError("no webhook registered: the bot never called setWebhook")
        headers = {"Content-Type": "application/json"}
        secret = secret_token if secret_token is not None else (self.webhook_secret if use_registered_secret else None)
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        async with httpx.AsyncClient(timeout=10.0) as client:
            response = await client.post(target, content=body, headers=headers)
        return response.status_code

    async def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        def blocking() -> bool:
            with self._changed:
                return self._changed.wait_for(lambda: predicate() or self._closing, timeout) and predicate()

        if not await asyncio.to_thread(blocking):
            raise TimeoutError(f"stand-in Telegram: no {what} within {timeout} s")

    # the Bot API ------------------------------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        """Run one Bot API method; raise ``BotApiError`` for Telegram's error answers."""
        key = method.lower()
        if key == "getupdates":
            return self._get_updates(params)
        with self._changed:
            self._state.calls.append(method)
            self._inject_failure(key)
            handler = _METHODS.get(key)
            if handler is None:
                raise BotApiError(404, "Not Found")
            result = handler(self, params, files)
            self._changed.notify_all()
            return result

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = params.get("offset")
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), MAX_POLL_S)
        with self._changed:
            self._state.calls.append("getUpdates")
            self._inject_failure("getupdates")
            if self._state.webhook_url:
                raise BotApiError(409, "Conflict: can't use getUpdates method while webhook is active; use "
                                     "deleteWebhook to delete the webhook first")
            if offset is not None and int(offset) > 0:
                self._state.updates = [u for u in self._state.updates if u["update_id"] >= int(offset)]
                self._state.confirmed_offset = max(self._state.confirmed_offset, int(offset))
            self._state.poll_offsets.append(int(offset) if offset is not None else None)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self._state.updates or self._closing, timeout)
            return list(self._state.updates[:limit])

    def _inject_failure(self, key: str) -> None:
        queue = self._state.failures.get(key)
        if not queue:
            return
        if queue[0].skip > 0:
            queue[0].skip -= 1
            return
        injected = queue.popleft()
        raise BotApiError(injected.error_code, injected.description, injected.parameters)

    def _get_me(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        return self.bot_user

    def _set_webhook(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._state.webhook_url = str(params.get("url") or "")
        secret = params.get("secret_token")
        self._state.webhook_secret = str(secret) if secret else None
        self._drop_pending(params)
        return True

    def _delete_webhook(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        self._state.webhook_url = ""
        self._state.webhook_secret = None
        self._drop_pending(params)
        return True

    def _drop_pending(self, params: dict[str, Any]) -> None:
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            self._state.drop_pending_requested = True
            self._state.updates.clear()

    def _webhook_info(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        return {"url": self._state.webhook_url, "has_custom_certificate": False,
                "pending_update_count": len(self._state.updates)}

    def _send_message(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        chat = self._writable_chat(params)
        raw = str(params.get("text") or "")
        parse_mode = params.get("parse_mode") or None
        shown = self._visible(raw, parse_mode)
        return self._post(chat, params, shown, raw, parse_mode, {"text": shown})

    def _send_document(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        chat = self._writable_chat(params)
        if not files:
            raise BotApiError(400, "Bad Request: there is no document in the request")
        name, content = next(iter(files.values()))
        file_id = f"FILE{next(self._file_ids):04d}"
        self._state.files[file_id] = (f"documents/{name}", content)
        raw = str(params.get("caption") or "")
        parse_mode = params.get("parse_mode") or None
        shown = visible_text(raw, parse_mode) if raw else ""
        extra: dict[str, Any] = {"document": {"file_id": file_id, "file_unique_id": f"U{file_id}",
                                              "file_name": name, "file_size": len(content)}}
        if shown:
            extra["caption"] = shown
        return self._post(chat, params, shown, raw, parse_mode, extra, document_name=name, media="document",
                          file_content=content)

    def _send_photo(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        chat = self._writable_chat(params)
        if "photo" not in files:
            raise BotApiError(400, "Bad Request: there is no photo in the request")
        name, content = files["photo"]
        if not content.startswith((b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF")):
            raise BotApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        file_id = f"FILE{next(self._file_ids):04d}"
        self._state.files[file_id] = (f"photos/{name}", content)
        photo = [{"file_id": file_id, "file_unique_id": f"U{file_id}", "width": 640, "height": 480,
                  "file_size": len(content)}]
        raw = str(params.get("caption") or "")
        parse_mode = params.get("parse_mode") or None
        shown = visible_text(raw, parse_mode) if raw else ""
        return self._post(chat, params, shown, raw, parse_mode, {"photo": photo}, document_name=name, media="photo",
                          file_content=content)

    def _post(
        self, chat: dict[str, Any], params: dict[str, Any], shown: str, raw: str, parse_mode: str | None,
        content: dict[str, Any], *, document_name: str | None = None, media: str | None = None,
        file_content: bytes | None = None,
    ) -> dict[str, Any]:
        chat_id = int(chat["id"])
        thread_id = params.get("message_thread_id")
        if thread_id is not None and (chat_id, int(thread_id)) not in self._state.topics:
            raise BotApiError(400, "Bad Request: message thread not found")
        reply_to = self._reply_target(chat_id, params)
        message: dict[str, Any] = {"message_id": next(self._message_ids), "from": self.bot_user, "chat": chat,
                                   "date": int(time.time()), **content}
        if thread_id is not None:
            self._place_in_topic(message, chat_id, int(thread_id))
        if reply_to is not None:
            message["reply_to_message"] = self._quoted(chat_id, reply_to)
        self._state.messages[(chat_id, message["message_id"])] = message
        self._state.sent.append(SentMessage(
            chat_id=chat_id, text=shown, message_thread_id=int(thread_id) if thread_id is not None else None,
            reply_to_message_id=reply_to, parse_mode=parse_mode, message_id=message["message_id"], raw_text=raw,
            document_name=document_name, media=media, file_content=file_content,
        ))
        return message

    def _edit_message_text(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        chat = self._writable_chat(params)
        message_id = int(params.get("message_id") or 0)
        message = self._state.messages.get((int(chat["id"]), message_id))
        if message is None:
            raise BotApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != BOT_USER_ID:
            raise BotApiError(400, "Bad Request: message can't be edited")
        parse_mode = params.get("parse_mode") or None
        shown = self._visible(str(params.get("text") or ""), parse_mode)
        if shown == message.get("text"):
            raise BotApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                 "markup are exactly the same as a current content and reply markup of the message")
        message["text"] = shown
        message["edit_date"] = int(time.time())
        self._state.edits.append(EditedMessage(int(chat["id"]), message_id, shown, parse_mode))
        return message

    def _send_chat_action(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        chat = self._writable_chat(params)
        thread_id = params.get("message_thread_id")
        action = ChatAction(int(chat["id"]), str(params.get("action")), int(thread_id) if thread_id else None)
        self._state.chat_actions.append(action)
        return True

    def _set_message_reaction(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        chat = self._writable_chat(params)
        reaction = params.get("reaction") or []
        self._state.reactions.append((int(chat["id"]), int(params.get("message_id") or 0), list(reaction)))
        return True

    def _get_file(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        file_id = str(params.get("file_id") or "")
        if file_id not in self._state.files:
            raise BotApiError(400, "Bad Request: invalid file_id")
        path, content = self._state.files[file_id]
        return {"file_id": file_id, "file_unique_id": f"U{file_id}", "file_size": len(content), "file_path": path}

    def file_content(self, path: str) -> bytes | None:
        with self._changed:
            for stored_path, content in self._state.files.values():
                if stored_path == path:
                    return content
            return None

    # helpers (called with the lock held) ------------------------------------------------------------------------

    def _visible(self, raw: str, parse_mode: str | None) -> str:
        try:
            shown = visible_text(raw, parse_mode)
        except EntityParseError as exc:
            raise BotApiError(400, f"Bad Request: {exc}") from exc
        if not shown.strip():
            raise BotApiError(400, "Bad Request: message text is empty")
        if utf16_units(shown) > TEXT_LIMIT:
            raise BotApiError(400, "Bad Request: message is too long")
        return shown

    def _writable_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("chat_id")
        try:
            chat_id = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise BotApiError(400, "Bad Request: chat not found") from None
        if chat_id in self._state.migrated:
            raise BotApiError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                            {"migrate_to_chat_id": self._state.migrated[chat_id]})
        chat = self._state.chats.get(chat_id)
        if chat is None:
            raise BotApiError(400, "Bad Request: chat not found")
        return chat

    def _reply_target(self, chat_id: int, params: dict[str, Any]) -> int | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            target, allow = reply.get("message_id"), bool(reply.get("allow_sending_without_reply"))
        else:
            target, allow = params.get("reply_to_message_id"), False
        if target is None:
            return None
        if (chat_id, int(target)) not in self._state.messages:
            if allow:
                return None
            raise BotApiError(400, "Bad Request: message to be replied not found")
        return int(target)

    def _chat(
        self, chat_id: int, chat_type: str, title: str | None, first_name: str, username: str | None, *, forum: bool
    ) -> dict[str, Any]:
        chat = self._state.chats.get(chat_id)
        if chat is None:
            if chat_type == "private":
                chat = {"id": chat_id, "type": "private", "first_name": first_name}
                if username:
                    chat["username"] = username
            else:
                chat = {"id": chat_id, "type": chat_type, "title": title or "Team"}
            self._state.chats[chat_id] = chat
        if forum and chat.get("type") == "supergroup":
            chat["is_forum"] = True
        return dict(chat)

    def _place_in_topic(self, message: dict[str, Any], chat_id: int, thread_id: int) -> None:
        # Every message in a topic carries an implicit reply to the topic-created message (id == thread id).
        self._state.topics.add((chat_id, thread_id))
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
        created = self._state.messages.get((chat_id, thread_id)) or {
            "message_id": thread_id, "message_thread_id": thread_id, "date": int(time.time()),
            "chat": message["chat"], "from": {"id": 1, "is_bot": False, "first_name": "Creator"},
            "forum_topic_created": {"name": f"Topic {thread_id}", "icon_color": 7322096}, "is_topic_message": True,
        }
        message["reply_to_message"] = _without_reply(created)

    def _quoted(self, chat_id: int, message_id: int) -> dict[str, Any]:
        quoted = self._state.messages.get((chat_id, message_id))
        if quoted is None:
            raise AssertionError(f"stand-in Telegram: no message {message_id} in chat {chat_id} to reply to")
        return _without_reply(quoted)

    def _attach(self, message: dict[str, Any], photo: bytes | None, document: tuple[str, bytes] | None) -> None:
        if photo is not None:
            small, large = f"FILE{next(self._file_ids):04d}", f"FILE{next(self._file_ids):04d}"
            self._state.files[small] = ("photos/small.jpg", photo[:64])
            self._state.files[large] = ("photos/large.jpg", photo)
            message["photo"] = [
                {"file_id": small, "file_unique_id": f"U{small}", "width": 90, "height": 60, "file_size": 64},
                {"file_id": large, "file_unique_id": f"U{large}", "width": 1280, "height": 853,
                 "file_size": len(photo)},
            ]
        if document is not None:
            name, content = document
            file_id = f"FILE{next(self._file_ids):04d}"
            self._state.files[file_id] = (f"documents/{name}", content)
            message["document"] = {"file_id": file_id, "file_unique_id": f"U{file_id}", "file_name": name,
                                   "mime_type": "application/octet-stream", "file_size": len(content)}

    def _attach_media(self, message: dict[str, Any], voice: bytes | None, video: tuple[str, bytes] | None) -> None:
        if voice is not None:
            file_id = f"FILE{next(self._file_ids):04d}"
            self._state.files[file_id] = ("voice/file_1.oga", voice)
            message["voice"] = {"file_id": file_id, "file_unique_id": f"U{file_id}", "duration": 2,
                                "mime_type": "audio/ogg", "file_size": len(voice)}
        if video is not None:
            name, content = video
            file_id = f"FILE{next(self._file_ids):04d}"
            self._state.files[file_id] = (f"videos/{name}", content)
            message["video"] = {"file_id": file_id, "file_unique_id": f"U{file_id}", "width": 160, "height": 120,
                                "duration": 2, "file_name": name, "mime_type": "video/mp4",
                                "file_size": len(content)}


_METHODS: dict[str, Callable[[FakeTelegram, dict[str, Any], dict[str, tuple[str, bytes]]], Any]] = {
    "getme": FakeTelegram._get_me,
    "setwebhook": FakeTelegram._set_webhook,
    "deletewebhook": FakeTelegram._delete_webhook,
    "getwebhookinfo": FakeTelegram._webhook_info,
    "sendmessage": FakeTelegram._send_message,
    "senddocument": FakeTelegram._send_document,
    "sendphoto": FakeTelegram._send_photo,
    "editmessagetext": FakeTelegram._edit_message_text,
    "sendchataction": FakeTelegram._send_chat_action,
    "setmessagereaction": FakeTelegram._set_message_reaction,
    "getfile": FakeTelegram._get_file,
}


def _without_reply(message: dict[str, Any]) -> dict[str, Any]:
    # Telegram does not nest replies: a quoted message comes without its own reply_to_message.
    return {k: v for k, v in message.items() if k != "reply_to_message"}


def _default_description(code: int, parameters: dict[str, Any]) -> str:
    if code == 429:
        return f"Too Many Requests: retry after {parameters.get('retry_after')}"
    return {
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden: bot was kicked from the group chat",
        409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        500: "Internal Server Error", 502: "Bad Gateway",
    }.get(code, "Error")


class RecordingDeliver:
    """A ``deliver`` for the channel under test: records each Inbound; can fail or hold on cue.

    ``fail_times`` makes the first calls raise (as a storage outage would); ``hold`` makes each call wait for the
    event before returning, so a test can look at what was acknowledged meanwhile.
    """

    def __init__(self, *, fail_times: int = 0, hold: asyncio.Event | None = None) -> None:
        self.received: list[Inbound] = []
        self.fail_times = fail_times
        self.hold = hold
        self.entered = asyncio.Event()
        self._changed = asyncio.Condition()

    async def __call__(self, inbound: Inbound) -> bool:
        async with self._changed:
            self.received.append(inbound)
            self._changed.notify_all()
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("storage unavailable (injected by the test)")
        return True

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Inbound]:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: len(self.received) >= count)
        return list(self.received)
