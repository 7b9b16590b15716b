"""Self-written skills: the model drafts a skill folder, the member (or an admin, for team skills) approves it.

Drafts live in ``<home>/skills/.drafts/<member_id>/<name>/`` with ``<name>.json`` beside the folder saying who
wrote it and whether it is meant for the member or the team. Approval installs the draft as a new version (see
``changes``) and marks that content approved in one step; nothing is used before that.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import PermissionDenied, SkillError
from assistant.messages import MemberScope, utcnow
from assistant.skillbook import changes
from assistant.skillbook.library import SkillLibrary
from assistant.skillbook.scan import scan_skill
from assistant.skillbook.spec import MAX_SKILL_MD_BYTES, SKILL_FILE, check_name, render_skill_md

__all__ = ["Draft", "approve_draft", "discard_draft", "list_drafts", "write_draft"]


@dataclass(frozen=True, slots=True)
class Draft:
    name: str
    author_id: int
    author_name: str
    for_team: bool
    folder: Path


def _draft_dir(library: SkillLibrary, member_id: int) -> Path:
    return library.drafts_dir / str(int(member_id))


def _load(meta_path: Path) -> Draft:
    data = json.loads(meta_path.read_text(encoding="utf-8"))
    return Draft(data["name"], int(data["author_id"]), data["author_name"], bool(data["for_team"]),
                 meta_path.with_suffix(""))


def write_draft(library: SkillLibrary, scope: MemberScope, name: str, description: str, body: str, *,
                for_team: bool = False) -> str:
    """Write (or overwrite) the member's draft and return the preview the member should read before approving."""
    check_name(name)
    text = render_skill_md(name, " ".join(description.split()), body)
    if len(text.encode()) > MAX_SKILL_MD_BYTES:
        raise SkillError(f"the draft is larger than {MAX_SKILL_MD_BYTES} bytes: shorten the instructions")
    base = _draft_dir(library, scope.member_id)
    folder = base / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / SKILL_FILE).write_text(text, encoding="utf-8")
    meta = {"name": name, "author_id": scope.member_id, "author_name": scope.member_name, "for_team": for_team,
            "at": utcnow().isoformat()}
    (base / f"{name}.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    findings = scan_skill(folder)
    who = "an admin" if for_team else scope.member_name
    lines = [f"Draft skill {name!r} ({'for the team' if for_team else 'for ' + scope.member_name}):", "",
             text.strip(), ""]
    if findings:
        lines.append("The scanner flagged this draft; only an admin can approve it (with `force`):")
        lines.extend(f"  - {f.describe()}" for f in findings)
    lines.append(f"To install it, {who} sends: /skill approve {name}")
    return "\n".join(lines)


def list_drafts(library: SkillLibrary, scope: MemberScope) -> list[Draft]:
    """The member's own drafts, plus every team draft when the member is an admin."""
    found: list[Draft] = []
    if not library.drafts_dir.is_dir():
        return found
    for meta_path in sorted(library.drafts_dir.glob("*/*.json")):
        draft = _load(meta_path)
        if draft.author_id == scope.member_id or (draft.for_team and scope.is_admin):
            found.append(draft)
    return found


def _find(library: SkillLibrary, scope: MemberScope, name: str) -> Draft:
    check_name(name)
    own = _draft_dir(library, scope.member_id) / f"{name}.json"
    if own.is_file():
        return _load(own)
    for draft in list_drafts(library, scope):
        if draft.name == name:
            return draft
    raise SkillError(f"there is no draft named {name!r}; /skill drafts lists yours")


def approve_draft(library: SkillLibrary, scope: MemberScope, name: str, *, force: bool = False) -> str:
    """Install a draft: the author approves a personal skill, an admin a team skill."""
    draft = _find(library, scope, name)
    if draft.for_team and not scope.is_admin:
        raise PermissionDenied(f"{name!r} is meant for the whole team, so an admin approves it")
    if not draft.for_team and draft.author_id != scope.member_id:
        raise PermissionDenied(f"{name!r} is {draft.author_name}'s personal draft")
    member_id = None if draft.for_team else draft.author_id
    by = f"member:{scope.member_id}"
    admin_force = force and scope.is_admin
    installed = changes.install(library, draft.folder, member_id=member_id, by=by, force=admin_force)
    changes.approve(library, name, member_id=member_id, by=by, is_admin=scope.is_admin or not draft.for_team,
                    force=admin_force)
    discard_draft(library, draft)
    where = "the team" if draft.for_team else draft.author_name
    return f"Installed skill {name!r} for {where} (version {installed.version})."


def discard_draft(library: SkillLibrary, draft: Draft) -> None:
    shutil.rmtree(draft.folder, ignore_errors=True)
    draft.folder.with_suffix(".json").unlink(missing_ok=True)
