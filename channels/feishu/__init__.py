"""The Feishu (Lark) channel: ``FeishuChannel`` plus its pure parse/render steps, usable on captured payloads."""

from __future__ import annotations

from .adapter import FeishuChannel
from .api import BotInfo, ChatMember, FeishuApi, FeishuApiError
from .parse import parse_event
from .render import OutgoingPart, is_structured, part_uuid, render_reply, split_text
from .webhook import WebhookVerifier

__all__ = [
    "BotInfo",
    "ChatMember",
    "FeishuApi",
    "FeishuApiError",
    "FeishuChannel",
    "OutgoingPart",
    "WebhookVerifier",
    "is_structured",
    "parse_event",
    "part_uuid",
    "render_reply",
    "split_text",
]
