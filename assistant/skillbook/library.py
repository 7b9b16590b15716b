"""The skill library: shipped, team and per-member skill folders merged into one index per member.

Precedence on equal names: a member's own skill over the team's over the shipped one. Only the index (names and
one-line descriptions) goes into the prompt; the body is read when the model picks a skill with ``skill_read``.
Team and member skills are used only once approved: approval records the folder's content hash, so a skill
edited after approval is unavailable again until someone approves the new content.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import SkillError
from assistant.messages import MemberScope, utcnow
from assistant.skillbook.spec import (
    SKILL_FILE,
    SkillSpec,
    check_name,
    load_skill,
    skill_md_path,
    split_front_matter,
)

if TYPE_CHECKING:
    from assistant.config import Config

__all__ = ["SkillLibrary", "folder_digest", "shipped_skills_dir"]

log = logging.getLogger(__name__)

TRUST_FILE = ".trust.json"
RESCAN_S = 1.0  # how long a read of the skill folders is trusted before their files are looked at again
_DESCRIPTION_CHARS = 160


def shipped_skills_dir() -> Path:
    """The ``skills/`` package that ships with teamclaw: installed beside the ``assistant`` package (a checkout
    and a wheel alike). Found by path, not by import, so a ``skills`` folder in the working directory cannot
    stand in for it."""
    return Path(__file__).resolve().parents[2] / "skills"


def folder_digest(folder: Path) -> str:
    """sha256 over every file's relative path and bytes: the identity approval is bound to."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


class SkillLibrary:
    """Reads skill folders. Methods do small file reads: call them from async code via ``asyncio.to_thread``
    when many skills are installed (the tools in this package do)."""

    def __init__(self, shipped_dir: Path, team_dir: Path, members_dir: Path, *, rescan_s: float = RESCAN_S) -> None:
        self.shipped_dir = shipped_dir
        self.team_dir = team_dir
        self.members_dir = members_dir
        self._scans: dict[tuple[Path, str], tuple[tuple[tuple[str, int, int], ...], dict[str, SkillSpec]]] = {}
        self._checked: dict[tuple[Path, str], float] = {}  # when each scan's signature was last compared
        self._rescan_s = rescan_s

    def forget_scans(self) -> None:
        """Drop what was read: the next index reads the folders again (called after every change made here)."""
        self._scans.clear()
        self._checked.clear()

    @classmethod
    def for_config(cls, config: Config, *, rescan_s: float = RESCAN_S) -> SkillLibrary:
        return cls(shipped_skills_dir(), config.data_dir / "skills", config.data_dir / "members", rescan_s=rescan_s)

    # -- where things live -------------------------------------------------------------------------------
    def root(self, member_id: int | None) -> Path:
        """The writable skills folder: the team's, or one member's."""
        if member_id is None:
            return self.team_dir
        return self.members_dir / str(int(member_id)) / "skills"

    @property
    def drafts_dir(self) -> Path:
        return self.team_dir / ".drafts"

    # -- trust -------------------------------------------------------------------------------------------
    def _trust(self, root: Path) -> dict[str, Any]:
        path = root / TRUST_FILE
        if not path.is_file():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SkillError(f"{path} is unreadable ({exc}); restore it or approve the skills again") from exc
        return data if isinstance(data, dict) else {}

    def is_approved(self, root: Path, name: str, digest: str) -> bool:
        entry = self._trust(root).get(name)
        return isinstance(entry, dict) and digest in entry.get("approved", [])

    def mark_approved(self, root: Path, name: str, digest: str, by: str) -> None:
        trust = self._trust(root)
        entry = trust.setdefault(name, {"approved": []})
        if digest not in entry["approved"]:
            entry["approved"].append(digest)
        entry["last_approved_by"] = by
        entry["last_approved_at"] = utcnow().isoformat()
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / (TRUST_FILE + ".tmp")
        tmp.write_text(json.dumps(trust, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(root / TRUST_FILE)
        self.forget_scans()

    # -- reading -----------------------------------------------------------------------------------------
    def _signature(self, root: Path) -> tuple[tuple[str, int, int], ...]:
        """What a scan depends on: every file's name, size and mtime (cheap stats, no parsing or hashing), and the
        environment (requirements name variables and programs on PATH)."""
        entries = [("<env>", hash(frozenset(os.environ.items())), 0)]
        for path in sorted(root.rglob("*")):
            if path.is_file():
                st = path.stat()
                entries.append((str(path.relative_to(root)), st.st_size, st.st_mtime_ns))
        return tuple(entries)

    def _scan_root(self, root: Path, origin: str) -> dict[str, SkillSpec]:
        # Each turn asks for the index; parsing front matter and hashing folders every time costs milliseconds,
        # so a scan is reused until a file under the root changes. Even the stats that tell are skipped for
        # RESCAN_S after a check: a folder edited by hand shows up that much later, changes made through this
        # library (install, approve, remove, rollback) at once.
        key = (root, origin)
        cached = self._scans.get(key)
        now = time.monotonic()
        if cached is not None and now - self._checked.get(key, float("-inf")) < self._rescan_s:
            return dict(cached[1])
        if not root.is_dir():
            return {}
        signature = self._signature(root)
        self._checked[key] = now
        if cached is not None and cached[0] == signature:
            return dict(cached[1])
        found = self._scan_root_uncached(root, origin)
        self._scans[key] = (signature, dict(found))
        return found

    def _scan_root_uncached(self, root: Path, origin: str) -> dict[str, SkillSpec]:
        found: dict[str, SkillSpec] = {}
        for folder in sorted(root.iterdir()):
            if folder.name.startswith((".", "_")) or not folder.is_dir() or folder.is_symlink():
                continue
            try:
                spec = load_skill(folder, origin)
            except SkillError as exc:
                log.warning("skill folder %s skipped: %s", folder, exc)
                continue
            if origin != "shipped" and spec.available and not self.is_approved(root, spec.name,
                                                                               folder_digest(folder)):
                where = "" if origin == "team" else " --member ID"
                spec = spec.unavailable(
                    f"not approved: run `teamclaw skills approve {spec.name}{where}` after reviewing it"
                )
            found[spec.name] = spec
        return found

    def index_for(self, member_id: int | None) -> list[SkillSpec]:
        merged = self._scan_root(self.shipped_dir, "shipped")
        merged.update(self._scan_root(self.team_dir, "team"))
        if member_id is not None:
            merged.update(self._scan_root(self.root(member_id), "member"))
        return [merged[n] for n in sorted(merged)]

    def index(self, scope: MemberScope | None) -> list[SkillSpec]:
        """Every skill this member sees, available or not (unavailable ones carry the reason)."""
        return self.index_for(scope.member_id if scope is not None else None)

    def index_text(self, scope: MemberScope | None) -> str:
        """Names and one-line descriptions of the available skills, in name order: stable prompt prefix text."""
        lines = []
        for spec in self.index(scope):
            if not spec.available:
                continue
            description = spec.description
            if len(description) > _DESCRIPTION_CHARS:
                description = description[:_DESCRIPTION_CHARS - 1].rstrip() + "…"
            lines.append(f"- {spec.name}: {description}")
        if not lines:
            return ""
        return "Skills (call skill_read with a name to get its instructions before you follow it):\n" + "\n".join(
            lines)

    def get(self, scope: MemberScope | None, name: str) -> SkillSpec:
        check_name(name)
        for spec in self.index(scope):
            if spec.name == name:
                return spec
        raise SkillError(f"there is no skill named {name!r}; `teamclaw skills list` shows the installed ones")

    def read(self, scope: MemberScope | None, name: str) -> str:
        """The body of an available skill (its instructions, without the front matter)."""
        spec = self.get(scope, name)
        if not spec.available:
            raise SkillError(f"skill {name!r} is unavailable: {spec.reason}")
        _front, body = split_front_matter(skill_md_path(spec.path).read_text(encoding="utf-8", errors="replace"))
        return body

    def supporting_files(self, spec: SkillSpec) -> list[str]:
        return sorted(
            p.relative_to(spec.path).as_posix() for p in spec.path.rglob("*")
            if p.is_file() and p.name not in (SKILL_FILE, "skill.md") and not p.is_symlink()
        )
