"""The model's two skill tools: ``skill_read`` (load a skill's instructions) and ``skill_draft`` (write a draft)."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import BaseModel, Field

from assistant.errors import SkillError, ToolError
from assistant.skillbook.drafts import write_draft
from assistant.skillbook.library import SkillLibrary
from assistant.tools import Tool, ToolContext, ToolResult

__all__ = ["skill_tools"]


class SkillReadArgs(BaseModel):
    name: str


class SkillDraftArgs(BaseModel):
    name: str = Field(description="Lowercase with hyphens, e.g. 'release-checklist'")
    description: str = Field(description="One line: what it does, when to use it")
    body: str = Field(description="Markdown instructions: steps, tools, output format")
    scope: Literal["member", "team"] = Field(
        default="member", description="'team': for everyone, an admin approves"
    )


def _library(ctx: ToolContext) -> SkillLibrary:
    library = ctx.services.skills
    if not isinstance(library, SkillLibrary):
        raise ToolError("skills are not enabled on this assistant")
    return library


async def _skill_read(args: SkillReadArgs, ctx: ToolContext) -> ToolResult:
    library = _library(ctx)

    def _read() -> tuple[str, bool]:
        spec = library.get(ctx.scope, args.name)
        body = library.read(ctx.scope, args.name)
        head = [f"Skill {spec.name} ({spec.origin}): {spec.description}"]
        if spec.allowed_tools:
            head.append(f"Tools this skill uses: {', '.join(spec.allowed_tools)}")
        files = library.supporting_files(spec)
        if files:
            head.append(f"Supporting files (not loaded): {', '.join(files[:20])}")
        return "\n".join(head) + "\n\n" + body, spec.local_only

    try:
        text, local_only = await asyncio.to_thread(_read)
        # A local-only skill keeps the rest of the turn on local models: its result is marked private.
        return ToolResult(text, private=local_only or ctx.scope.private)
    except SkillError as exc:
        raise ToolError(str(exc)) from exc


async def _skill_draft(args: SkillDraftArgs, ctx: ToolContext) -> ToolResult:
    library = _library(ctx)
    try:
        preview = await asyncio.to_thread(write_draft, library, ctx.scope, args.name, args.description, args.body,
                                          for_team=args.scope == "team")
    except SkillError as exc:
        raise ToolError(str(exc)) from exc
    return ToolResult(preview + "\n\nShow this preview to the member; nothing is installed until they approve.")


def skill_tools() -> list[Tool]:
    return [
        Tool("skill_read", "Read a skill's instructions before following it.",
             SkillReadArgs, _skill_read, timeout_s=10.0, group_safe=True),
        Tool("skill_draft",
             "Draft a skill from what was just done ('turn this into a skill'); returns a preview the member "
             "approves with /skill approve NAME.",
             SkillDraftArgs, _skill_draft, timeout_s=10.0),
    ]
