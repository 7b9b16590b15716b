"""``send_message`` and ``send_file``: post to the chat the turn is in (never another chat), via the outbox.

The target chat comes from the turn's scope, not from the arguments, so a model cannot be talked into posting
elsewhere. Channels do not carry file attachments yet: ``send_file`` posts a note naming the file (with its
text when it is short) and says so in its result, so nobody is told a file was attached when it was not.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.builtin_tools.workspace import member_workspace, resolve_in_workspace
from assistant.errors import ScopeError, ToolError
from assistant.messages import Reply
from assistant.tools import Tool, ToolContext, ToolResult

__all__ = ["chat_tools"]

MAX_MESSAGE_CHARS = 4_000
INLINE_FILE_CHARS = 3_000


class SendMessageArgs(BaseModel):
    text: str = Field(description="The message to post in this chat now (the final answer is sent anyway)")


class SendFileArgs(BaseModel):
    path: str = Field(description="A file in your workspace folder, relative to it")
    caption: str = Field(default="", description="A line to go with the file")


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


def _describe_file(path: Path, rel: str, caption: str) -> tuple[str, bool]:
    size = path.stat().st_size
    head = f"{caption.strip()}\n" if caption.strip() else ""
    data = path.read_bytes()[:INLINE_FILE_CHARS * 4 + 1]
    if size <= INLINE_FILE_CHARS and b"\0" not in data:
        return f"{head}File {rel} ({size} bytes):\n{data.decode('utf-8', errors='replace')}", True
    return f"{head}File {rel} ({size} bytes) is in the workspace; this chat cannot receive attachments yet.", False


async def _send_file(args: SendFileArgs, ctx: ToolContext) -> ToolResult:
    workspace = member_workspace(ctx.services.config, ctx.scope)
    try:
        path = resolve_in_workspace(workspace, args.path)
    except ScopeError as exc:
        raise ToolError(str(exc)) from exc
    if not path.is_file():
        raise ToolError(f"{args.path!r} is not a file in your workspace")
    rel = path.relative_to(workspace).as_posix()
    text, inline = await asyncio.to_thread(_describe_file, path, rel, args.caption)
    message_id = await _enqueue(ctx, text)
    inlined = "with its text inline" if inline else "as a note naming it (too large or not text)"
    return ToolResult(f"posted {rel} {inlined} as message {message_id}; no attachment was sent because the "
                      "channels do not carry files yet")


def chat_tools() -> list[Tool]:
    return [
        Tool("send_message", "Post a message in the current chat right away (e.g. a progress note).",
             SendMessageArgs, _send_message, timeout_s=15.0),
        Tool("send_file", "Share a file from your workspace in the current chat.", SendFileArgs, _send_file,
             timeout_s=15.0),
    ]
