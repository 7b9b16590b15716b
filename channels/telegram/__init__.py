"""The Telegram channel (python-telegram-bot): long polling or webhook in, replies out, as one ``Channel``."""

from __future__ import annotations

from channels.telegram.adapter import ChatMigratedHook, TelegramChannel
from channels.telegram.parse import BotIdentity, chat_migration, parse_update
from channels.telegram.render import MessagePart, render_edit, render_reply
from channels.telegram.split import TEXT_LIMIT, split_text

__all__ = [
    "TEXT_LIMIT",
    "BotIdentity",
    "ChatMigratedHook",
    "MessagePart",
    "TelegramChannel",
    "chat_migration",
    "parse_update",
    "render_edit",
    "render_reply",
    "split_text",
]
