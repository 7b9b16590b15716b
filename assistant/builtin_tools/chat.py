"""``send_message`` and ``send_file``: post to the chat the turn is in (never another chat), via the outbox.

The target chat comes from the turn's scope, not from the arguments, so a model cannot be talked into posting
elsewhere. ``send_file`` attaches the file itself (a picture as a photo, anything else as a document) to a reply
the outbox delivers like any other: stored first, sent once.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.builtin_tools.workspace import member_workspace, resolve_in_workspace
from assistant.errors import ScopeError, ToolError
from assistant.media.sniff import IMAGE_TYPES, sniff_mime
from assistant.messages import OutgoingFile, Reply
from assistant.tools import Tool, ToolContext, ToolResult

__all__ = ["chat_tools"]

MAX_MESSAGE_CHARS = 4_000
# Feishu takes uploads up to 30 MB (Telegram bots up to 50 MB): the smaller limit holds for both.
SEND_FILE_MAX_BYTES = 30_000_000


class SendMessageArgs(BaseModel):
    text: str


class SendFileArgs(BaseModel):
    path: str = Field(description="Relative to your workspace")
    caption: str = ""


def _reply(ctx: ToolContext, text: str) -> Reply:
    # Stable across a retried turn: same turn, same text -> same key, so the outbox sends it once.
    seed = f"{ctx.scope.session_key}|{ctx.inbound_message_id}|{text}"
    key = "tool-" + hashlib.sha256(seed.encode()).hexdigest()[:40]
    return Reply(channel=ctx.scope.channel, chat_id=ctx.scope.chat_id, text=text, idempotency_key=key,
                 thread_id=ctx.scope.thread_id)


async def _enqueue(ctx: ToolContext, text: str) -> int:
    outbox = ctx.services.outbox
    if outbox is None:
        raise ToolError("messages cannot be sent from here (no outbox is running)")
    message_id: int = await outbox.enqueue(_reply(ctx, text), ctx.scope.member_id, ctx.inbound_message_id)
    return message_id


async def _send_message(args: SendMessageArgs, ctx: ToolContext) -> ToolResult:
    text = args.text.strip()
    if not text:
        raise ToolError("the message is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ToolError(f"the message is {len(text)} characters; keep it under {MAX_MESSAGE_CHARS}")
    message_id = await _enqueue(ctx, text)
    return ToolResult(f"queued for this chat as message {message_id}")


def _file_kind(path: Path) -> tuple[int, str]:
    with path.open("rb") as handle:
        head = handle.read(4096)
    return path.stat().st_size, "image" if sniff_mime(head) in IMAGE_TYPES else "file"


async def _send_file(args: SendFileArgs, ctx: ToolContext) -> ToolResult:
    workspace = member_workspace(ctx.services.config, ctx.scope)
    try:
        path = resolve_in_workspace(workspace, args.path)
    except ScopeError as exc:
        raise ToolError(str(exc)) from exc
    if not path.is_file():
        raise ToolError(f"{args.path!r} is not a file in your workspace")
    rel = path.relative_to(workspace).as_posix()
    size, kind = await asyncio.to_thread(_file_kind, path)
    if size == 0:
        raise ToolError(f"{rel} is empty; there is nothing to send")
    if size > SEND_FILE_MAX_BYTES:
        raise ToolError(f"{rel} is {size} bytes; the chat platforms take files up to {SEND_FILE_MAX_BYTES} bytes")
    outbox = ctx.services.outbox
    if outbox is None:
        raise ToolError("files cannot be sent from here (no outbox is running)")
    caption = args.caption.strip()[:MAX_MESSAGE_CHARS]
    reply = replace(_reply(ctx, f"{caption}|file:{rel}:{size}"), text=caption,
                    files=(OutgoingFile(str(path), path.name, kind),))
    message_id = await outbox.enqueue(reply, ctx.scope.member_id, ctx.inbound_message_id)
    shown = "a picture" if kind == "image" else "a file"
    return ToolResult(f"sent {rel} ({size} bytes) as {shown} to this chat, message {message_id}")


def chat_tools() -> list[Tool]:
    return [
        Tool("send_message", "Post a message in this chat now, e.g. a progress note (your answer is sent anyway).",
             SendMessageArgs, _send_message, timeout_s=15.0),
        Tool("send_file", "Share a file from your workspace in this chat.", SendFileArgs, _send_file,
             timeout_s=15.0),
    ]
