"""``/files``: what the assistant keeps of the files a member sent, and ``/files forget`` to delete all of it."""

from __future__ import annotations

from assistant.commands import Command, CommandContext, CommandRegistry

__all__ = ["register_commands"]

_LISTED = 20


async def _files(args: str, ctx: CommandContext) -> str:
    media = getattr(ctx.services, "media", None)
    if media is None:
        return "Files are not kept here (media.enabled is off)."
    store = media.store
    if args.strip().lower() == "forget":
        removed = await store.forget_member(ctx.scope.member_id)
        return f"Deleted {removed} file{'s' if removed != 1 else ''} you sent, and their records."
    if args.strip():
        return "Usage: /files (list what I keep), /files forget (delete all of it)"
    files = await store.files_of(ctx.scope.member_id)
    if not files:
        return "I keep no files you sent."
    lines = [f"I keep {len(files)} file{'s' if len(files) != 1 else ''} you sent (only you and the chat it was "
             "sent in can use them):"]
    for row in files[-_LISTED:]:
        flag = ", stays on this machine" if row.sensitive else ""
        lines.append(f"- {row.name or row.kind} ({row.mime}, {row.size} bytes, {row.created_at:%Y-%m-%d}{flag})")
    lines.append("/files forget deletes all of them.")
    return "\n".join(lines)


def register_commands(registry: CommandRegistry) -> None:
    registry.register(Command("files", "The files you sent that I keep; /files forget deletes them.", _files))
