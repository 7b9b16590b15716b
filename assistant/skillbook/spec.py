"""Skill folders parsed into ``SkillSpec`` values: SKILL.md front matter is read as data, nothing is executed.

Two front-matter styles are accepted, so existing skills work unchanged:

- teamclaw: ``requires: {env: [...], bins: [...]}`` and ``allowed-tools``;
- Agent Skills / OpenClaw: ``metadata: {openclaw: {requires: {env, bins, anyBins}, os: [...]}}`` (also under the
  older ``clawdbot`` / ``clawdis`` keys), ``allowed-tools`` as a space- or comma-separated string.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from assistant.errors import SkillError

__all__ = [
    "MAX_SKILL_MD_BYTES",
    "SKILL_FILE",
    "SkillSpec",
    "check_name",
    "load_skill",
    "render_skill_md",
    "skill_md_path",
    "split_front_matter",
]

SKILL_FILE = "SKILL.md"
MAX_SKILL_MD_BYTES = 64_000
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_OPENCLAW_KEYS = ("openclaw", "clawdbot", "clawdis")
_PLATFORMS = {"linux": "linux", "darwin": "darwin", "win32": "win32"}


@dataclass(frozen=True, slots=True)
class SkillSpec:
    """One skill as the library sees it. ``available`` is False when a requirement is unmet or the skill is not
    approved; ``reason`` then says why, in words a member can act on."""

    name: str
    description: str
    origin: str  # "shipped" | "team" | "member"
    path: Path
    requires_env: tuple[str, ...] = ()
    requires_bins: tuple[str, ...] = ()
    requires_any_bins: tuple[str, ...] = ()
    allowed_tools: tuple[str, ...] = ()
    version: str = ""
    # ``local-only: true`` in the front matter: a turn that reads this skill stays on local models from then on
    # (a skill about the team's payroll, patients, contracts ...).
    local_only: bool = False
    available: bool = True
    reason: str = ""

    def unavailable(self, reason: str) -> SkillSpec:
        return replace(self, available=False, reason=reason)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise SkillError(
            f"skill name {name!r} is not valid: use 1-64 lowercase letters, digits, '-' or '_', starting with a "
            "letter or digit"
        )
    return name


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """SKILL.md text -> (front matter, body). YAML is read with ``safe_load``: data only, no object tags."""
    text = text.removeprefix("\ufeff")
    if not text.startswith("---"):
        return {}, text.strip()
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return {}, text.strip()
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            break
    else:
        raise SkillError("SKILL.md opens front matter with '---' but never closes it: add a closing '---' line")
    try:
        data = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError as exc:
        raise SkillError(f"SKILL.md front matter is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SkillError("SKILL.md front matter must be a mapping of keys (name, description, ...)")
    return data, "\n".join(lines[end + 1:]).strip()


def render_skill_md(name: str, description: str, body: str, *, allowed_tools: tuple[str, ...] = ()) -> str:
    front: dict[str, Any] = {"name": name, "description": description}
    if allowed_tools:
        front["allowed-tools"] = " ".join(allowed_tools)
    head = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=1000).strip()
    return f"---\n{head}\n---\n\n{body.strip()}\n"


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(p for p in re.split(r"[\s,]+", value) if p)
    if isinstance(value, list | tuple):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return ()


def _openclaw_block(front: dict[str, Any]) -> dict[str, Any]:
    meta = front.get("metadata")
    if isinstance(meta, str):
        # OpenClaw's documented single-line form: metadata: {"openclaw": {...}} written as a JSON string.
        try:
            meta = yaml.safe_load(meta)
        except yaml.YAMLError:
            meta = None
    if not isinstance(meta, dict):
        return {}
    for key in _OPENCLAW_KEYS:
        block = meta.get(key)
        if isinstance(block, dict):
            return block
    return {}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_line(text: str) -> str:
    return " ".join(str(text).split())


def skill_md_path(folder: Path) -> Path:
    """SKILL.md, or the lowercase skill.md some published skills use."""
    for name in (SKILL_FILE, "skill.md"):
        if (folder / name).is_file():
            return folder / name
    raise SkillError(f"{folder.name}: no {SKILL_FILE} in the folder")


def load_skill(folder: Path, origin: str) -> SkillSpec:
    """Parse one skill folder. Raises ``SkillError`` when the folder is not a usable skill at all; unmet
    requirements give a spec with ``available=False`` instead."""
    skill_md = skill_md_path(folder)
    if skill_md.stat().st_size > MAX_SKILL_MD_BYTES:
        raise SkillError(f"{folder.name}: {SKILL_FILE} is larger than {MAX_SKILL_MD_BYTES} bytes")
    front, _body = split_front_matter(skill_md.read_text(encoding="utf-8", errors="replace"))
    name = str(front.get("name") or folder.name).strip()
    check_name(name)
    description = _first_line(front.get("description") or "")
    if not description:
        raise SkillError(f"{name}: the front matter has no description; add one line saying when to use it")
    claw = _openclaw_block(front)
    claw_requires = _mapping(claw.get("requires"))
    own_requires = _mapping(front.get("requires"))
    spec = SkillSpec(
        name=name,
        description=description,
        origin=origin,
        path=folder,
        requires_env=_strings(own_requires.get("env")) + _strings(claw_requires.get("env")),
        requires_bins=_strings(own_requires.get("bins")) + _strings(claw_requires.get("bins")),
        requires_any_bins=_strings(own_requires.get("anyBins")) + _strings(claw_requires.get("anyBins")),
        allowed_tools=_strings(front.get("allowed-tools") or front.get("allowed_tools")),
        version=str(front.get("version") or ""),
        local_only=front.get("local-only", front.get("local_only")) is True,
    )
    return _gate(spec, _strings(claw.get("os")))


def _gate(spec: SkillSpec, platforms: tuple[str, ...]) -> SkillSpec:
    missing_env = [n for n in spec.requires_env if not os.environ.get(n)]
    if missing_env:
        return spec.unavailable(f"needs environment variable {', '.join(missing_env)}")
    missing_bins = [b for b in spec.requires_bins if shutil.which(b) is None]
    if missing_bins:
        return spec.unavailable(f"needs program {', '.join(missing_bins)} on PATH")
    if spec.requires_any_bins and not any(shutil.which(b) for b in spec.requires_any_bins):
        return spec.unavailable(f"needs one of the programs {', '.join(spec.requires_any_bins)} on PATH")
    if platforms and _PLATFORMS.get(sys.platform, sys.platform) not in platforms:
        return spec.unavailable(f"runs only on {', '.join(platforms)}")
    return spec
