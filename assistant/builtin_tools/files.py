"""``file_read``, ``file_write`` and ``file_list``: files inside the asking member's own workspace folder only."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from pydantic import BaseModel, Field

from assistant.builtin_tools.workspace import member_workspace, resolve_in_workspace
from assistant.errors import ScopeError, ToolError
from assistant.tools import Tool, ToolContext, ToolResult

__all__ = ["file_tools"]

_LIST_LIMIT = 200


class FileReadArgs(BaseModel):
    path: str = Field(description="Relative to your workspace, e.g. 'notes/todo.md'")


class FileWriteArgs(BaseModel):
    path: str = Field(description="Relative to your workspace; folders are created")
    content: str
    append: bool = Field(default=False, description="Add to the end instead of replacing")


class FileListArgs(BaseModel):
    path: str = Field(default=".", description="Relative to your workspace")


def _resolve(ctx: ToolContext, relative: str) -> tuple[Path, Path]:
    workspace = member_workspace(ctx.services.config, ctx.scope)
    try:
        return workspace, resolve_in_workspace(workspace, relative)
    except ScopeError as exc:
        raise ToolError(str(exc)) from exc


def _read(path: Path, limit: int) -> str:
    if not path.is_file():
        raise ToolError(f"{path.name!r} is not a file in your workspace")
    size = path.stat().st_size
    if size > limit:
        raise ToolError(f"{path.name} is {size} bytes; files over {limit} bytes are not read whole")
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        raise ToolError(f"{path.name} is a binary file; only text files can be read")
    return data.decode("utf-8", errors="replace")


async def _file_read(args: FileReadArgs, ctx: ToolContext) -> ToolResult:
    _workspace, path = _resolve(ctx, args.path)
    text = await asyncio.to_thread(_read, path, ctx.services.config.tools.file_max_bytes)
    return ToolResult(text, private=ctx.scope.private)


def _write(path: Path, content: str, append: bool, limit: int) -> int:
    data = content.encode("utf-8")
    existing = path.stat().st_size if append and path.is_file() else 0
    if existing + len(data) > limit:
        raise ToolError(f"the file would be {existing + len(data)} bytes; the limit is {limit}")
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a link swapped in after the check above is refused, not followed.
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise ToolError(f"{path.name} cannot be written ({exc.strerror})") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return len(data)


async def _file_write(args: FileWriteArgs, ctx: ToolContext) -> ToolResult:
    workspace, path = _resolve(ctx, args.path)
    if path == workspace:
        raise ToolError("give a file name, not the workspace folder itself")
    written = await asyncio.to_thread(_write, path, args.content, args.append,
                                      ctx.services.config.tools.file_max_bytes)
    rel = path.relative_to(workspace).as_posix()
    return ToolResult(f"{'appended' if args.append else 'wrote'} {written} bytes to {rel}")


def _list(workspace: Path, folder: Path) -> str:
    if not folder.is_dir():
        raise ToolError(f"{folder.name!r} is not a folder in your workspace")
    entries = sorted(folder.iterdir())
    lines = []
    for entry in entries[:_LIST_LIMIT]:
        rel = entry.relative_to(workspace).as_posix()
        if entry.is_symlink():
            lines.append(f"{rel} (link)")
        elif entry.is_dir():
            lines.append(f"{rel}/")
        else:
            lines.append(f"{rel} ({entry.stat().st_size} bytes)")
    if len(entries) > _LIST_LIMIT:
        lines.append(f"... and {len(entries) - _LIST_LIMIT} more")
    return "\n".join(lines) if lines else "(empty)"


async def _file_list(args: FileListArgs, ctx: ToolContext) -> ToolResult:
    workspace, folder = _resolve(ctx, args.path)
    return ToolResult(await asyncio.to_thread(_list, workspace, folder), private=ctx.scope.private)


def file_tools() -> list[Tool]:
    return [
        Tool("file_read", "Read a text file from your workspace.", FileReadArgs, _file_read,
             timeout_s=15.0),
        Tool("file_write", "Write or append a text file in your workspace.", FileWriteArgs,
             _file_write, timeout_s=15.0),
        Tool("file_list", "List a folder of your workspace.", FileListArgs, _file_list, timeout_s=15.0),
    ]
