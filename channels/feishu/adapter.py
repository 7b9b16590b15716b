"""The Feishu (Lark) channel: events in over the long connection or a webhook, replies out through the open API.

One event's route: ``ws.LongConnection`` or ``webhook.FeishuWebhook`` verifies and decodes it -> ``_on_event``
parses it (``parse.parse_event``), adds the sender's name (contact API, cached) and awaits ``deliver`` (the inbox
stores it) -> only then is the event acknowledged. A reply's route: ``send`` renders it (``render.render_reply``),
paces it per chat and posts each part with its idempotency ``uuid`` (``api.FeishuApi``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.config import FeishuConfig
from assistant.errors import ChannelError, ConfigError, FileRefused, SendFailed
from assistant.media.intake import too_large_reason
from assistant.media.sniff import IMAGE_TYPES, sniff_mime
from assistant.messages import Attachment, Inbound, OutgoingFile, Reply, SentRef, utcnow
from channels.base import Deliver
from channels.leader import Leader

from .api import FeishuApi, FeishuApiError
from .names import NameDirectory
from .pace import ChatPacer
from .parse import CHANNEL_NAME, parse_event
from .render import OutgoingPart, part_uuid, render_edit, render_reply
from .webhook import FeishuWebhook, WebhookVerifier
from .ws import LongConnection

__all__ = ["WORKING_EMOJI", "FeishuChannel"]

log = logging.getLogger(__name__)

WORKING_EMOJI = "Typing"
NAME_LOOKUP_TIMEOUT_S = 1.0  # the lookup sits before the ack; Feishu redelivers after 3 s
SENT_IDS_KEPT = 4096
# The message replied to was recalled or deleted: post in the chat instead of failing the reply.
REPLY_TARGET_GONE = frozenset({230011, 231003})
IMAGE_MAX_BYTES = 10_000_000  # Feishu's limit for an uploaded image; a larger one goes as a file
# Feishu's file_type for an upload, by what the bytes are; anything else is a "stream".
_FILE_TYPES = {"application/pdf": "pdf", "video/mp4": "mp4", "audio/ogg": "opus"}


class FeishuChannel:
    """``Channel`` for Feishu, plus ``Reacts``, ``EditsMessages`` and ``FetchesFiles`` (message resources).
    The daemon calls start once and stop once."""

    name = CHANNEL_NAME

    def __init__(self, config: FeishuConfig) -> None:
        self._config = config
        self._api = FeishuApi(config)
        self._names = NameDirectory(self._api.user_name)
        self._pacer = ChatPacer()
        self._sent: OrderedDict[str, str] = OrderedDict()  # message id the bot posted -> msg_type
        self._reactions: dict[str, str] = {}  # asking message id -> our "working" reaction id
        self._deliver: Deliver | None = None
        self._receiver: LongConnection | FeishuWebhook | None = None
        self._leader: Leader | None = None  # several processes on one database: only the leader connects
        self.bot_open_id = ""
        self.bot_name = ""
        self.last_event_at: datetime | None = None

    @property
    def connected(self) -> bool:
        if isinstance(self._receiver, LongConnection):
            return self._receiver.connected
        return self._receiver is not None

    @property
    def webhook_url(self) -> str | None:
        return self._receiver.url if isinstance(self._receiver, FeishuWebhook) else None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver
        try:
            bot = await self._api.bot_info()
            self.bot_open_id, self.bot_name = bot.open_id, bot.name
            self._receiver = self._receiver_for_mode()
            await self._receiver.start()
        except BaseException:
            await self.stop()
            raise
        log.info("feishu channel started (%s mode) as %s", self._config.mode, self.bot_name or self.bot_open_id)

    def receive_as_leader(self, leader: Leader) -> bool:
        """``SingleReceiver``: one long connection per app at a time; a webhook takes any process."""
        if self._config.mode != "ws":
            return False
        self._leader = leader
        return True

    async def stop(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            await receiver.aclose()
        await self._api.aclose()

    def remember_sent(self, message_ids: Iterable[str], msg_type: str = "text") -> None:
        """Tell the adapter about messages the bot posted before a restart, so replies to them address it."""
        for message_id in message_ids:
            self._remember(message_id, msg_type)

    # -- sending --------------------------------------------------------------------------------------------

    def direct_chat(self, user_id: str) -> str:
        """Feishu opens the one-to-one chat itself when a message is sent to a user's open_id ("ou_...")."""
        return user_id

    async def send(self, reply: Reply) -> SentRef:
        ids = []
        parts = render_reply(reply) if reply.text.strip() or not reply.files else []
        for part in parts:
            await self._pacer.wait(reply.chat_id)
            message_id = await self._post(reply, part)
            self._remember(message_id, part.msg_type)
            ids.append(message_id)
        for index, file in enumerate(reply.files, start=len(parts)):
            part = await self._file_part(file, part_uuid(reply.idempotency_key, index))
            await self._pacer.wait(reply.chat_id)
            message_id = await self._post(reply, part)
            self._remember(message_id, part.msg_type)
            ids.append(message_id)
        return SentRef(tuple(ids))

    async def _file_part(self, file: OutgoingFile, uuid: str) -> OutgoingPart:
        """Upload a file of a reply and return the message that shows it: an image, or a file to download.
        A retried send uploads again; the message's uuid still keeps it from posting twice."""
        try:
            data = await asyncio.to_thread(Path(file.path).read_bytes)
        except OSError as exc:
            raise SendFailed(f"the file {file.name!r} to send is gone ({exc.strerror})", permanent=True) from exc
        mime = sniff_mime(data[:4096])
        if file.kind == "image" and mime in IMAGE_TYPES and len(data) <= IMAGE_MAX_BYTES:
            answer = await self._api.upload("/open-apis/im/v1/images",
                                            {"image_type": "message", "image": (file.name, data, mime)})
            return OutgoingPart("image", {"image_key": str(answer["data"]["image_key"])}, uuid)
        answer = await self._api.upload("/open-apis/im/v1/files", {
            "file_type": _FILE_TYPES.get(mime, "stream"), "file_name": file.name,
            "file": (file.name, data, mime)})
        return OutgoingPart("file", {"file_key": str(answer["data"]["file_key"])}, uuid)

    async def download(self, message_id: str, attachment: Attachment, *, max_bytes: int) -> bytes:
        """The bytes of a file a member sent (message resources). Feishu's events carry no file size, so the
        size is known only once the file is here; a file over ``max_bytes`` is dropped and refused."""
        kind = "image" if attachment.kind == "image" else "file"
        data = await self._api.resource(message_id, attachment.platform_file_id, kind)
        if len(data) > max_bytes:
            raise FileRefused(too_large_reason(attachment.name or "the file", len(data), max_bytes))
        return data

    async def _post(self, reply: Reply, part: OutgoingPart) -> str:
        if reply.reply_to_message_id:
            in_thread = self._config.reply_in_thread or reply.thread_id is not None
            try:
                return await self._api.reply_message(reply.reply_to_message_id, part, in_thread=in_thread)
            except FeishuApiError as exc:
                if exc.code not in REPLY_TARGET_GONE:
                    raise
                log.info("feishu reply target %s is gone (code %d): posting in the chat",
                         reply.reply_to_message_id, exc.code)
        return await self._api.create_message(reply.chat_id, part)

    async def edit(self, channel_chat_id: str, platform_message_id: str, text: str) -> None:
        msg_type = self._sent.get(platform_message_id, "text")
        await self._pacer.wait(channel_chat_id)
        await self._api.update_message(platform_message_id, msg_type, render_edit(text, msg_type))

    async def working(self, inbound: Inbound, on: bool) -> None:
        """A "Typing" reaction on the asking message while its turn runs (Feishu has no typing indicator)."""
        key = inbound.platform_message_id
        try:
            if on:
                await self._pacer.wait(inbound.chat_id)
                self._reactions[key] = await self._api.add_reaction(key, WORKING_EMOJI)
            elif key in self._reactions:
                await self._pacer.wait(inbound.chat_id)
                await self._api.delete_reaction(key, self._reactions.pop(key))
        except ChannelError as exc:  # cosmetic: a missing reaction must not fail the turn
            log.warning("feishu working reaction %s failed: %s", "on" if on else "off", exc)

    def _remember(self, message_id: str, msg_type: str) -> None:
        self._sent[message_id] = msg_type
        self._sent.move_to_end(message_id)
        while len(self._sent) > SENT_IDS_KEPT:
            self._sent.popitem(last=False)

    # -- receiving ------------------------------------------------------------------------------------------

    def _receiver_for_mode(self) -> LongConnection | FeishuWebhook:
        config = self._config
        if config.mode == "ws":
            return LongConnection(app_id=config.app_id, app_secret=config.secret() or "", domain=config.domain,
                                  sink=self._on_event, idle_reconnect_s=config.ws_idle_reconnect_s,
                                  leader=self._leader)
        encrypt_key = config.encrypt_key.get_secret_value() if config.encrypt_key else ""
        token = config.verification_token.get_secret_value() if config.verification_token else ""
        if not encrypt_key or not token:
            raise ConfigError(
                "channels.feishu.mode = 'webhook' needs encrypt_key and verification_token: copy both from the "
                "app's Events & Callbacks > Encryption Strategy page (unsigned webhooks are refused)"
            )
        verifier = WebhookVerifier(encrypt_key=encrypt_key, verification_token=token,
                                   replay_window_s=config.replay_window_s)
        return FeishuWebhook(verifier, self._on_event, host=config.webhook_host, port=config.webhook_port,
                             path=config.webhook_path)

    async def _on_event(self, body: dict[str, Any]) -> None:
        """Store one event (through ``deliver``); returning is what allows the platform to be acknowledged."""
        self.last_event_at = utcnow()
        inbound = parse_event(body, bot_open_id=self.bot_open_id, sent_by_bot=self._sent.__contains__)
        if inbound is None or self._deliver is None:
            return
        for mention in inbound.mentions:
            self._names.remember(mention.platform_user_id, mention.name)
        await self._deliver(replace(inbound, sender_name=await self._sender_name(inbound)))

    async def _sender_name(self, inbound: Inbound) -> str:
        try:
            async with asyncio.timeout(NAME_LOOKUP_TIMEOUT_S):
                return await self._names.name_of(inbound.sender_id)
        except TimeoutError:
            return ""
