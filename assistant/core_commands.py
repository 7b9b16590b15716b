"""The slash commands of the core: /help, /new, /status, /whoami, and the admin ones /pair, /link, /allow, /replay."""

from __future__ import annotations

from sqlalchemy import func, select

from assistant import __version__
from assistant.commands import Command, CommandContext, CommandRegistry
from assistant.errors import ScopeError
from assistant.storage.tables import Message

__all__ = ["register_commands"]


def register_commands(registry: CommandRegistry) -> None:
    async def help_(args: str, ctx: CommandContext) -> str:
        lines = ["Commands:"]
        for cmd in registry.all():
            if cmd.admin_only and not ctx.scope.is_admin:
                continue
            lines.append(f"/{cmd.name} — {cmd.help}")
        lines.append("Anything else is a message to your assistant. Plain words work too, with no model: "
                     "\"remind me every weekday at 9am to check the build\", \"remember that ...\", \"forget ...\", "
                     "\"what do you remember about me\".")
        if ctx.scope.channel == "console":
            lines.append("/quit or /exit (or Ctrl-D, Ctrl-C) leaves the chat.")
        return "\n".join(lines)

    async def new(args: str, ctx: CommandContext) -> str:
        await ctx.services.agents.new_session(ctx.scope)
        return "Started a fresh session. Your memory stays; the conversation context is cleared."

    async def whoami(args: str, ctx: CommandContext) -> str:
        s = ctx.scope
        role = "admin" if s.is_admin else "member"
        where = f"{s.channel} {s.chat_kind.value} chat {s.chat_id}" + (f", topic {s.thread_id}" if s.thread_id else "")
        private = " Everything you send here stays on the local model." if s.private else ""
        return f"You are {s.member_name} (member #{s.member_id}, {role}, time zone {s.timezone}) in {where}.{private}"

    async def status(args: str, ctx: CommandContext) -> str:
        async with ctx.services.db.session() as db:
            pending = (await db.execute(select(func.count()).select_from(Message).where(
                Message.direction == "in", Message.status.in_(("received", "processing"))))).scalar_one()
            dead = (await db.execute(select(func.count()).select_from(Message).where(
                Message.direction == "out", Message.status == "dead"))).scalar_one()
        models = ", ".join(sorted(ctx.services.config.all_models()))
        return f"teamclaw {__version__} running. Queue: {pending} waiting, {dead} undelivered. Models: {models}."

    async def pair(args: str, ctx: CommandContext) -> str:
        if not args:
            return "Usage: /pair CODE (the code the new member received)"
        try:
            name = await ctx.services.members.approve_pairing(args.split()[0])
        except ScopeError as exc:
            return str(exc)
        return f"Approved {name}. They can talk to me now."

    async def link(args: str, ctx: CommandContext) -> str:
        parts = args.split()
        if len(parts) != 2:
            return "Usage: /link MEMBER OTHER_ACCOUNT, e.g. /link alice telegram:123456 (one person, one assistant)"
        try:
            name, into, merged = await ctx.services.members.link(parts[0], parts[1])
        except ScopeError as exc:
            return str(exc)
        if merged is not None and ctx.services.memory is not None:
            await ctx.services.memory.reassign_member(merged, into)
        return f"Linked: {parts[1]} is now {name}'s account too."

    async def allow(args: str, ctx: CommandContext) -> str:
        if args.strip():
            try:
                name = await ctx.services.members.allow_member(args.strip())
            except ScopeError as exc:
                return str(exc)
            return f"{name} may now talk to me in direct chats."
        await ctx.services.members.allow_chat(ctx.scope.channel, ctx.scope.chat_id)
        return "This chat is allowed now: members here get their own assistant."

    async def replay(args: str, ctx: CommandContext) -> str:
        if not args.strip().isdigit():
            dead = await ctx.services.outbox.dead_letters(10)
            if not dead:
                return "No undelivered messages."
            return "Undelivered (replay with /replay ID):\n" + "\n".join(
                f"#{m.id} to {m.channel}:{m.chat_id} — {m.last_error or 'failed'}" for m in dead)
        ok = await ctx.services.outbox.replay(int(args))
        return "Queued for delivery again." if ok else f"No undelivered message #{args.strip()}."

    for command in (
        Command("help", "list the commands", help_),
        Command("new", "start a fresh session (memory stays)", new),
        Command("whoami", "who you are to me, and where", whoami),
        Command("status", "is everything running", status),
        Command("pair", "approve a new member's pairing code", pair, admin_only=True),
        Command("link", "link two accounts of one person", link, admin_only=True),
        Command("allow", "allow this chat, or a member for direct chats", allow, admin_only=True),
        Command("replay", "list or resend undelivered messages", replay, admin_only=True),
    ):
        registry.register(command)
