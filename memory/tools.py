"""The memory tools the model may call: ``memory_search``, ``memory_save``, ``memory_forget``.

The store comes from ``ctx.services.memory`` and the scope from ``ctx.scope``: never from the model's arguments,
so no argument can make a tool read or write outside the member's scope."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from assistant.errors import ScopeError, ToolError
from assistant.tools import Tool, ToolContext, ToolRegistry, ToolResult
from memory.render import render_line
from memory.store import MemoryStore

__all__ = ["register_tools"]


class SearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=500)
    k: int = Field(default=6, ge=1, le=20)


class SaveArgs(BaseModel):
    text: str = Field(min_length=3, max_length=2000, description="In the third person")
    kind: Literal["fact", "preference", "project", "person", "decision", "note"] = "fact"
    visibility: Literal["private", "group", "team"] = Field(
        default="private", description="Who may recall it: this member, this group chat, or everyone"
    )


class ForgetArgs(BaseModel):
    record_id: int | None = Field(default=None, description="From memory_search")
    query: str | None = Field(default=None, max_length=500, description="Forget records containing it")


def _store(ctx: ToolContext) -> MemoryStore:
    store = ctx.services.memory
    if store is None:
        raise ToolError("memory is turned off on this assistant (memory.enabled = false)")
    return store  # type: ignore[no-any-return]


_WITHHELD_NOTE = ("; {n} more of the member's private notes match, left out because this reply goes to the group: "
                  "offer to answer in a direct chat")


async def _search(args: SearchArgs, ctx: ToolContext) -> ToolResult:
    found = await _store(ctx).recall(ctx.scope, args.query, args.k)
    withheld = 0
    if ctx.scope.group_chat_key is not None:
        # The answer goes to the whole group: the member's own private-visibility memory stays out of it.
        kept = [f for f in found if f.visibility != "private"]
        withheld, found = len(found) - len(kept), kept
    if not found:
        return ToolResult("no memory matches that" + (_WITHHELD_NOTE.format(n=withheld) if withheld else ""))
    lines = [f"#{f.id} {render_line(f)[2:]}" for f in found]
    if withheld:
        lines.append(_WITHHELD_NOTE.format(n=withheld).strip())
    return ToolResult("\n".join(lines), private=any(f.private for f in found))


async def _save(args: SaveArgs, ctx: ToolContext) -> ToolResult:
    if args.visibility == "team" and ctx.scope.group_chat_key is None and not ctx.scope.is_admin:
        raise ToolError("team memory is written from a group chat (or by an admin); save it privately instead")
    try:
        record_id = await _store(ctx).remember(
            ctx.scope, args.text, kind=args.kind, visibility=args.visibility,
            source_message_id=ctx.inbound_message_id, confidence=0.7,
        )
    except ScopeError as exc:
        raise ToolError(str(exc)) from exc
    # The confirmation carries no content of the note (the router reads the note itself in the call's arguments).
    return ToolResult(f"saved as #{record_id} ({args.visibility})", private=ctx.scope.private)


async def _forget(args: ForgetArgs, ctx: ToolContext) -> ToolResult:
    if args.record_id is None and not args.query:
        raise ToolError("give record_id or query")
    count = await _store(ctx).forget(ctx.scope, record_id=args.record_id, query=args.query)
    return ToolResult(f"forgot {count} record(s)" if count else "nothing this member may delete matched")


def register_tools(registry: ToolRegistry) -> None:
    registry.register(Tool(
        "memory_search", "Search what you remember of this member, this group and the team.",
        SearchArgs, _search, group_safe=True,
    ))
    registry.register(Tool(
        "memory_save", "Remember a lasting fact, preference, project, person or decision.", SaveArgs, _save,
        group_safe=True,
    ))
    registry.register(Tool(
        "memory_forget", "Delete remembered records for good, by id or text.", ForgetArgs,
        _forget,
    ))
