"""Skills: folders with a SKILL.md, indexed into the prompt by name and read by the model when it picks one."""

from __future__ import annotations

from assistant.skillbook.changes import Installed, VersionInfo, approve, install, remove, rollback, versions
from assistant.skillbook.commands import register_skill_commands
from assistant.skillbook.commands import register_skill_commands as register_commands
from assistant.skillbook.drafts import Draft, approve_draft, discard_draft, list_drafts, write_draft
from assistant.skillbook.library import SkillLibrary, folder_digest, shipped_skills_dir
from assistant.skillbook.scan import Finding, scan_skill, scan_text
from assistant.skillbook.spec import SkillSpec, load_skill, split_front_matter
from assistant.skillbook.tools import skill_tools

__all__ = [
    "Draft",
    "Finding",
    "Installed",
    "SkillLibrary",
    "SkillSpec",
    "VersionInfo",
    "approve",
    "approve_draft",
    "discard_draft",
    "folder_digest",
    "install",
    "list_drafts",
    "load_skill",
    "register_commands",
    "register_skill_commands",
    "remove",
    "rollback",
    "scan_skill",
    "scan_text",
    "shipped_skills_dir",
    "skill_tools",
    "split_front_matter",
    "versions",
    "write_draft",
]
