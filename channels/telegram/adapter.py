"""The Telegram channel: updates in (long polling or webhook) as ``Inbound``, replies out through PTB's ``Bot``.

Receiving: each update is parsed (``parse``) and awaited through ``deliver`` before Telegram is told it arrived
(``polling``: the offset moves; ``webhook``: the HTTP answer is 200), so an update is stored before it is
acknowledged. Sending: ``render`` splits and marks up the reply, and the files a reply carries follow as photos or
documents (a short text becomes the first one's caption); Telegram's errors are translated here into
``RateLimited`` and ``SendFailed`` so nothing above this package imports ``telegram.error``.

Telegram has no idempotency key for sends: a message that reached Telegram just before a crash, before the
outbox recorded it as sent, is sent again after the restart. Within one process, a reply whose later part failed
resumes after the parts already sent when the outbox retries it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import Bot, InputFile, ReplyParameters, Update
from telegram.constants import ChatAction
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.request import HTTPXRequest

from assistant.config import TelegramConfig
from assistant.errors import ChannelError, ConfigError, FileRefused, RateLimited, SendFailed
from assistant.media.intake import too_large_reason
from assistant.messages import Attachment, Inbound, OutgoingFile, Reply, SentRef
from channels.base import Deliver
from channels.leader import Leader
from channels.telegram.chat_action import TypingIndicator
from channels.telegram.parse import CHANNEL_NAME, BotIdentity, chat_migration, parse_update
from channels.telegram.polling import UpdatePoller, retry_after_seconds
from channels.telegram.render import MessagePart, render_edit, render_reply
from channels.telegram.utf16 import utf16_len
from channels.telegram.webhook import WebhookReceiver

__all__ = ["ALLOWED_UPDATES", "ChatMigratedHook", "TelegramChannel"]

log = logging.getLogger(__name__)

ChatMigratedHook = Callable[[str, str], Awaitable[None]]

ALLOWED_UPDATES = ("message",)  # edits, channel posts, callbacks are ignored anyway: not fetching them is cheaper
SEND_POOL_SIZE = 64  # concurrent sends across many groups
SEND_READ_TIMEOUT_S = 15.0
POLL_READ_TIMEOUT_S = 10.0  # PTB adds the long-poll timeout to this for getUpdates
CONNECT_TIMEOUT_S = 5.0
POOL_TIMEOUT_S = 10.0  # waiting for a free connection when many sends run at once
MAX_DOWNLOAD_BYTES = 20_000_000  # the Bot API serves files up to 20 MB
CAPTION_LIMIT = 1024  # characters of a file's caption, in UTF-16 code units
PHOTO_MAX_BYTES = 10_000_000  # sendPhoto's limit; a larger picture goes as a document
_RESUMABLE_REPLIES = 256
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_MARKUP_ERRORS = ("can't parse entities", "can't find end", "unsupported start tag")


class TelegramChannel:
    """One bot account. Implements ``Channel``, ``Reacts`` (typing), ``EditsMessages`` and ``FetchesFiles``.

    ``on_chat_migrated(old_chat_id, new_chat_id)`` is awaited when a group turns into a supergroup (seen in a
    service message or in a send that Telegram redirected); it may be called more than once for one migration.
    """

    name = CHANNEL_NAME

    def __init__(self, config: TelegramConfig, *, on_chat_migrated: ChatMigratedHook | None = None) -> None:
        self._config = config
        self._on_chat_migrated = on_chat_migrated
        self._bot: Bot | None = None
        self._me: BotIdentity | None = None
        self._deliver: Deliver | None = None
        self._poller: UpdatePoller | None = None
        self._leader: Leader | None = None  # several processes on one database: only the leader polls
        self._webhook: WebhookReceiver | None = None
        self._typing = TypingIndicator(self._send_typing)
        self._migrated: dict[str, str] = {}
        self._partial: OrderedDict[str, list[str]] = OrderedDict()  # idempotency_key -> ids of parts sent

    # ---- identity -----------------------------------------------------------------------------------------

    @property
    def bot_user_id(self) -> str:
        return str(self._identity().user_id)

    @property
    def bot_username(self) -> str:
        return self._identity().username

    @property
    def webhook_port(self) -> int | None:
        """The port the webhook listens on (the bound one when the config said 0); None when polling."""
        return self._webhook.port if self._webhook is not None else None

    # ---- lifecycle ----------------------------------------------------------------------------------------

    async def start(self, deliver: Deliver) -> None:
        if self._bot is not None:
            raise ChannelError("the telegram channel is already started")
        token = self._config.bot_token()
        if not token:
            raise ConfigError(
                "channels.telegram.token is empty: set it in teamclaw.toml or the TELEGRAM_BOT_TOKEN environment "
                "variable (the token @BotFather gave you)"
            )
        bot = Bot(
            token,
            base_url=self._config.base_url,
            base_file_url=self._config.base_file_url,
            request=HTTPXRequest(
                connection_pool_size=SEND_POOL_SIZE, read_timeout=SEND_READ_TIMEOUT_S,
                write_timeout=SEND_READ_TIMEOUT_S, connect_timeout=CONNECT_TIMEOUT_S, pool_timeout=POOL_TIMEOUT_S,
            ),
            get_updates_request=HTTPXRequest(
                connection_pool_size=2, read_timeout=POLL_READ_TIMEOUT_S, write_timeout=CONNECT_TIMEOUT_S,
                connect_timeout=CONNECT_TIMEOUT_S, pool_timeout=POOL_TIMEOUT_S,
            ),
        )
        self._deliver = deliver
        try:
            await self._connect(bot)
        except BaseException:
            await self._close(bot)
            raise
        log.info("telegram: @%s receiving by %s", self.bot_username, self._config.mode)

    async def _connect(self, bot: Bot) -> None:
        try:
            await bot.initialize()  # getMe
        except InvalidToken as exc:
            raise ConfigError(
                "telegram rejected the bot token: check channels.telegram.token (or TELEGRAM_BOT_TOKEN)"
            ) from exc
        except TelegramError as exc:
            host = urlsplit(self._config.base_url).netloc
            raise ChannelError(f"telegram could not be reached at {host} ({exc}); check the network") from exc
        self._bot = bot
        self._me = BotIdentity(bot.id, bot.username)
        try:
            if self._config.mode == "webhook":
                await self._start_webhook(bot)
            else:
                # A webhook left set would make every getUpdates fail with 409. Pending updates are kept.
                await bot.delete_webhook(drop_pending_updates=False)
                self._poller = UpdatePoller(
                    bot, self._handle_update, poll_timeout_s=self._config.poll_timeout_s,
                    allowed_updates=ALLOWED_UPDATES, leader=self._leader,
                )
                self._poller.start()
        except TelegramError as exc:
            raise ChannelError(f"telegram refused to start receiving updates ({exc})") from exc

    async def _start_webhook(self, bot: Bot) -> None:
        secret = self._config.webhook_secret_token() or secrets.token_urlsafe(32)
        if not _SECRET_TOKEN.fullmatch(secret):
            raise ConfigError("channels.telegram.webhook_secret may only use A-Z, a-z, 0-9, _ and - (1-256 chars)")
        self._webhook = WebhookReceiver(
            bot, self._handle_update, listen=self._config.webhook_listen, port=self._config.webhook_port,
            path=urlsplit(self._config.webhook_url).path, secret=secret,
        )
        await self._webhook.start()  # listening before Telegram is told where to post
        await bot.set_webhook(
            self._config.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )

    async def stop(self) -> None:
        if self._bot is None:
            return
        await self._close(self._bot)

    async def _close(self, bot: Bot) -> None:
        poller, webhook = self._poller, self._webhook
        self._poller = self._webhook = None
        if poller is not None:
            await poller.stop()
        if webhook is not None:
            await webhook.stop()  # the webhook stays registered: Telegram holds updates until we are back
        await self._typing.aclose()
        try:
            await bot.shutdown()
        except TelegramError as exc:
            log.warning("telegram: closing the connection pool failed (%s)", exc)
        self._bot = None

    # ---- receiving ----------------------------------------------------------------------------------------

    async def _handle_update(self, update: Update) -> None:
        """Parse and deliver one update; raises when ``deliver`` does, so it is not acknowledged."""
        if self._deliver is None or self._me is None:
            raise ChannelError("the telegram channel received an update before start() finished")
        migration = chat_migration(update)
        if migration is not None:
            await self._chat_migrated(*migration)
            return
        try:
            inbound = parse_update(update, self._me)
        except Exception:  # update boundary: a payload we cannot read must not stall every later update
            log.exception("telegram: update %d could not be read; skipped", update.update_id)
            return
        if inbound is not None:
            await self._deliver(inbound)

    async def _chat_migrated(self, old_chat_id: str, new_chat_id: str) -> None:
        self._migrated[old_chat_id] = new_chat_id
        log.info("telegram: chat %s became supergroup %s", old_chat_id, new_chat_id)
        if self._on_chat_migrated is not None:
            await self._on_chat_migrated(old_chat_id, new_chat_id)

    def receive_as_leader(self, leader: Leader) -> bool:
        """``SingleReceiver``: long polling admits one poller per bot; a webhook takes any process."""
        if self._config.mode == "webhook":
            return False
        self._leader = leader
        return True

    # ---- sending ------------------------------------------------------------------------------------------

    def direct_chat(self, user_id: str) -> str:
        """A user's private chat with the bot has the user's id (the bot may write once the user has started it)."""
        return user_id

    async def send(self, reply: Reply) -> SentRef:
        bot = self._require_bot()
        parts = render_reply(reply, self._config.parse_mode) if reply.text.strip() or not reply.files else []
        if not parts and not reply.files:
            raise SendFailed("the reply has no visible text; nothing was sent", permanent=True)
        caption: MessagePart | None = None
        if reply.files and len(parts) == 1 and utf16_len(parts[0].plain) <= CAPTION_LIMIT:
            caption, parts = parts[0], []  # a short text goes with the (first) file as its caption
        for value in (reply.chat_id, reply.thread_id, reply.reply_to_message_id):
            if value is not None and not _is_telegram_id(value):
                raise SendFailed(f"{value!r} is not a Telegram chat, topic or message id", permanent=True)
        sent = self._partial.pop(reply.idempotency_key, [])
        chat_id = self._migrated.get(reply.chat_id, reply.chat_id)
        for index in range(len(sent), len(parts) + len(reply.files)):
            quote = reply.reply_to_message_id if index == 0 else None
            try:
                if index < len(parts):
                    chat_id, message_id = await self._send_part(bot, chat_id, parts[index], reply.thread_id, quote)
                else:
                    message_id = await self._send_file(bot, chat_id, reply.files[index - len(parts)],
                                                       reply.thread_id, quote, caption if index == 0 else None)
            except (RateLimited, SendFailed):
                if sent:
                    self._remember_partial(reply.idempotency_key, sent)
                raise
            sent.append(message_id)
        return SentRef(tuple(sent))

    async def _send_part(
        self, bot: Bot, chat_id: str, part: MessagePart, thread_id: str | None, quote: str | None
    ) -> tuple[str, str]:
        """Send one part; returns (chat id it went to, message id). Follows one migration, falls back to plain
        text once when Telegram cannot parse the markup."""
        migrated = plain = False
        while True:
            try:
                message = await bot.send_message(
                    chat_id=int(chat_id),
                    text=part.plain if plain else part.text,
                    parse_mode=None if plain else part.parse_mode,
                    message_thread_id=int(thread_id) if thread_id and not migrated else None,
                    reply_parameters=(
                        ReplyParameters(int(quote), allow_sending_without_reply=True) if quote else None
                    ),
                )
                return chat_id, str(message.message_id)
            except ChatMigrated as exc:
                if migrated:
                    raise _translated(exc, chat_id) from exc
                migrated = True
                new_chat_id = str(exc.new_chat_id)
                await self._chat_migrated(chat_id, new_chat_id)
                chat_id = new_chat_id
            except BadRequest as exc:
                if plain or part.parse_mode is None or not _is_markup_error(exc):
                    raise _translated(exc, chat_id) from exc
                log.warning("telegram: markup refused in chat %s (%s); sending as plain text", chat_id, exc.message)
                plain = True
            except TelegramError as exc:
                raise _translated(exc, chat_id) from exc

    async def _send_file(
        self, bot: Bot, chat_id: str, file: OutgoingFile, thread_id: str | None, quote: str | None,
        caption: MessagePart | None,
    ) -> str:
        """Send one file of a reply: a picture as a photo (shown inline), anything else as a document."""
        try:
            data = await asyncio.to_thread(Path(file.path).read_bytes)
        except OSError as exc:
            raise SendFailed(f"the file {file.name!r} to send is gone ({exc.strerror})", permanent=True) from exc
        upload = InputFile(data, filename=file.name)
        common: dict[str, Any] = {
            "chat_id": int(chat_id),
            "message_thread_id": int(thread_id) if thread_id else None,
            "reply_parameters": ReplyParameters(int(quote), allow_sending_without_reply=True) if quote else None,
            "caption": caption.text if caption is not None else None,
            "parse_mode": caption.parse_mode if caption is not None else None,
        }
        plain = False
        while True:
            try:
                if file.kind == "image" and len(data) <= PHOTO_MAX_BYTES:
                    message = await bot.send_photo(photo=upload, **common)
                else:
                    message = await bot.send_document(document=upload, **common)
                return str(message.message_id)
            except BadRequest as exc:
                if plain or caption is None or caption.parse_mode is None or not _is_markup_error(exc):
                    raise _translated(exc, chat_id) from exc
                plain = True  # the caption's markup was refused: once more as plain text
                common.update(caption=caption.plain, parse_mode=None)
            except TelegramError as exc:
                raise _translated(exc, chat_id) from exc

    def _remember_partial(self, key: str, sent: list[str]) -> None:
        self._partial[key] = sent
        while len(self._partial) > _RESUMABLE_REPLIES:
            self._partial.popitem(last=False)

    async def edit(self, channel_chat_id: str, platform_message_id: str, text: str) -> None:
        bot = self._require_bot()
        if not (_is_telegram_id(channel_chat_id) and _is_telegram_id(platform_message_id)):
            raise SendFailed(f"{channel_chat_id}/{platform_message_id} is not a Telegram message", permanent=True)
        part = render_edit(text, self._config.parse_mode)
        chat_id = self._migrated.get(channel_chat_id, channel_chat_id)
        for markup in (True, False):
            try:
                await bot.edit_message_text(
                    part.text if markup else part.plain, chat_id=int(chat_id), message_id=int(platform_message_id),
                    parse_mode=part.parse_mode if markup else None,
                )
                return
            except BadRequest as exc:
                if "message is not modified" in exc.message.lower():
                    return
                if not (markup and part.parse_mode and _is_markup_error(exc)):
                    raise _translated(exc, chat_id) from exc
            except TelegramError as exc:
                raise _translated(exc, chat_id) from exc

    # ---- extra abilities ----------------------------------------------------------------------------------

    async def working(self, inbound: Inbound, on: bool) -> None:
        """Show "typing…" where ``inbound`` was said while its turn runs (refreshed until ``on=False``)."""
        place = (self._migrated.get(inbound.chat_id, inbound.chat_id), inbound.thread_id)
        if not _is_telegram_id(place[0]) or (inbound.thread_id is not None and not _is_telegram_id(inbound.thread_id)):
            return  # not a Telegram chat: nothing to show
        if on:
            self._typing.hold(place, inbound.platform_message_id)
        else:
            self._typing.release(place, inbound.platform_message_id)

    async def _send_typing(self, chat_id: str, thread_id: str | None) -> None:
        bot = self._require_bot()
        try:
            await bot.send_chat_action(
                int(chat_id), ChatAction.TYPING, message_thread_id=int(thread_id) if thread_id else None
            )
        except TelegramError as exc:
            raise _translated(exc, chat_id) from exc

    async def download(self, message_id: str, attachment: Attachment, *,
                       max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """The bytes of a file a member sent (getFile, then the file URL); ``FileRefused`` past ``max_bytes``."""
        bot = self._require_bot()
        file_id = attachment.platform_file_id
        limit = min(max_bytes, MAX_DOWNLOAD_BYTES)
        name = attachment.name or "the file"
        try:
            file = await bot.get_file(file_id)
            if file.file_size is not None and file.file_size > limit:
                raise FileRefused(too_large_reason(name, file.file_size, limit))
            data = bytes(await file.download_as_bytearray())
        except TelegramError as exc:
            if "too big" in exc.message.lower():  # the Bot API serves files up to 20 MB
                raise FileRefused(too_large_reason(name, attachment.size or limit + 1, limit)) from exc
            raise ChannelError(f"telegram could not provide file {file_id} ({exc.message})") from exc
        if len(data) > limit:
            raise FileRefused(too_large_reason(name, len(data), limit))
        return data

    # ---- helpers ------------------------------------------------------------------------------------------

    def _require_bot(self) -> Bot:
        if self._bot is None:
            raise SendFailed("the telegram channel is not started", permanent=False)
        return self._bot

    def _identity(self) -> BotIdentity:
        if self._me is None:
            raise ChannelError("the telegram bot identity is known only after start()")
        return self._me


def _is_telegram_id(value: str) -> bool:
    return value.removeprefix("-").isdigit()


def _is_markup_error(exc: BadRequest) -> bool:
    text = exc.message.lower()
    return any(marker in text for marker in _MARKUP_ERRORS)


def _translated(exc: TelegramError, chat_id: str) -> ChannelError:
    """Telegram's exception as ours: what failed, whether retrying can help, and for how long to wait."""
    if isinstance(exc, RetryAfter):
        seconds = retry_after_seconds(exc)
        return RateLimited(f"telegram rate limit in chat {chat_id}: retry after {seconds:.0f} s", seconds)
    if isinstance(exc, Forbidden):
        return SendFailed(
            f"telegram refused chat {chat_id}: the bot was blocked, removed, or may not post there ({exc.message})",
            permanent=True,
        )
    if isinstance(exc, InvalidToken):
        return SendFailed("telegram rejected the bot token: check channels.telegram.token", permanent=True)
    if isinstance(exc, BadRequest):
        return SendFailed(f"telegram refused the message for chat {chat_id} ({exc.message})", permanent=True)
    if isinstance(exc, ChatMigrated):
        return SendFailed(f"telegram chat {chat_id} moved twice while sending; retry later", permanent=False)
    if isinstance(exc, NetworkError):  # includes TimedOut
        return SendFailed(f"telegram could not be reached ({exc.message})", permanent=False)
    return SendFailed(f"telegram failed ({type(exc).__name__}: {exc.message})", permanent=False)
