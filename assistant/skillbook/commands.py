"""The ``/skill`` chat command: list skills, review and approve drafts, roll back a change."""

from __future__ import annotations

import asyncio

from assistant.commands import Command, CommandContext, CommandRegistry
from assistant.errors import PermissionDenied, SkillError
from assistant.skillbook import changes
from assistant.skillbook.drafts import approve_draft, discard_draft, list_drafts
from assistant.skillbook.library import SkillLibrary

__all__ = ["register_skill_commands"]

_USAGE = ("Usage: /skill list | /skill drafts | /skill approve NAME [force] | /skill discard NAME | "
          "/skill rollback NAME [team] [VERSION]")


def _library(ctx: CommandContext) -> SkillLibrary:
    library = ctx.services.skills
    if not isinstance(library, SkillLibrary):
        raise SkillError("skills are not enabled on this assistant")
    return library


def _list(library: SkillLibrary, ctx: CommandContext) -> str:
    lines = []
    for spec in library.index(ctx.scope):
        state = "" if spec.available else f" (unavailable: {spec.reason})"
        lines.append(f"- {spec.name} [{spec.origin}]: {spec.description}{state}")
    return "Skills:\n" + "\n".join(lines) if lines else "No skills are installed."


def _drafts(library: SkillLibrary, ctx: CommandContext) -> str:
    drafts = list_drafts(library, ctx.scope)
    if not drafts:
        return "No drafts waiting."
    return "Drafts waiting for approval:\n" + "\n".join(
        f"- {d.name} by {d.author_name} ({'team' if d.for_team else 'personal'})" for d in drafts)


def _rollback(library: SkillLibrary, ctx: CommandContext, words: list[str]) -> str:
    name, rest = words[0], words[1:]
    team = "team" in rest
    numbers = [int(w) for w in rest if w.isdigit()]
    if team and not ctx.scope.is_admin:
        raise PermissionDenied("team skills are rolled back by an admin")
    member_id = None if team else ctx.scope.member_id
    return changes.rollback(library, name, member_id=member_id, by=f"member:{ctx.scope.member_id}",
                            to=numbers[0] if numbers else None)


def _run(library: SkillLibrary, ctx: CommandContext, args: str) -> str:
    words = args.split()
    action, rest = (words[0].lower(), words[1:]) if words else ("list", [])
    if action == "list":
        return _list(library, ctx)
    if action == "drafts":
        return _drafts(library, ctx)
    if not rest:
        return _USAGE
    if action == "approve":
        return approve_draft(library, ctx.scope, rest[0], force="force" in rest[1:])
    if action == "discard":
        draft = next((d for d in list_drafts(library, ctx.scope)
                      if d.name == rest[0] and d.author_id == ctx.scope.member_id), None)
        if draft is None:
            return f"You have no draft named {rest[0]!r}."
        discard_draft(library, draft)
        return f"Draft {rest[0]!r} discarded."
    if action == "rollback":
        return _rollback(library, ctx, rest)
    return _USAGE


async def _skill(args: str, ctx: CommandContext) -> str:
    try:
        return await asyncio.to_thread(_run, _library(ctx), ctx, args)
    except SkillError as exc:
        return f"Skill: {exc}"


def register_skill_commands(registry: CommandRegistry) -> None:
    registry.register(Command("skill", "Skills: list, drafts, approve NAME, discard NAME, rollback NAME", _skill))
