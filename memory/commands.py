"""Chat commands on memory: ``/memory`` (what is remembered about me), ``/forget``, ``/profile``.

They work without any model. The store is ``ctx.services.memory`` and the scope is ``ctx.scope``."""

from __future__ import annotations

from assistant.commands import Command, CommandContext, CommandRegistry
from assistant.errors import MemoryError_, ScopeError
from memory.profile import PROFILE_KEYS
from memory.render import render_line
from memory.store import MemoryStore

__all__ = ["register_commands"]

_SHOWN = 15


def _store(ctx: CommandContext) -> MemoryStore | None:
    return ctx.services.memory  # type: ignore[no-any-return]


async def _memory(args: str, ctx: CommandContext) -> str:
    store = _store(ctx)
    if store is None:
        return "Memory is turned off on this assistant."
    if args.strip():
        found = await store.recall(ctx.scope, args.strip(), 10)
        if not found:
            return "Nothing I remember matches that."
        return "\n".join(f"#{f.id} {render_line(f)[2:]}" for f in found)
    profile = await store.profile_text(ctx.scope)
    own = await store.list_records(ctx.scope, only_own=True, limit=_SHOWN,
                                   kinds=("fact", "preference", "project", "person", "decision", "note", "profile"))
    lines = [profile, "", f"What I remember about you ({len(own)} shown, private to you):"]
    lines += [f"#{r.id} [{r.kind}] {r.text}" for r in own] or ["(nothing yet)"]
    lines.append("")
    lines.append("/forget <id> or /forget <text> removes a record; /profile set <field> <value> edits your profile.")
    return "\n".join(lines)


async def _forget(args: str, ctx: CommandContext) -> str:
    store = _store(ctx)
    if store is None:
        return "Memory is turned off on this assistant."
    target = args.strip().lstrip("#")
    if not target:
        return "Usage: /forget <id> or /forget <text>"
    count = (await store.forget(ctx.scope, record_id=int(target)) if target.isdigit()
             else await store.forget(ctx.scope, query=target))
    return f"Forgotten: {count} record(s), removed from both stores." if count else "Nothing you may delete matched."


async def _profile(args: str, ctx: CommandContext) -> str:
    store = _store(ctx)
    if store is None:
        return "Memory is turned off on this assistant."
    words = args.split(maxsplit=2)
    if words and words[0] == "set":
        if len(words) < 3:
            return f"Usage: /profile set <field> <value>; fields: {', '.join(PROFILE_KEYS)}"
        try:
            await store.set_profile(ctx.scope, words[1].lower(), words[2])
        except (MemoryError_, ScopeError) as exc:
            return str(exc)
        return f"Profile updated: {words[1].lower()} = {words[2]}"
    return await store.profile_text(ctx.scope)




def register_commands(registry: CommandRegistry) -> None:
    registry.register(Command("memory", "What I remember about you; /memory <words> searches.", _memory))
    registry.register(Command("forget", "Forget a record: /forget <id> or /forget <text>.", _forget))
    registry.register(Command("profile", "Your profile; /profile set <field> <value> edits it.", _profile))
