"""Changing skills: install, approve, remove and roll back, each change recorded as a numbered version.

Every change of a team or member skill copies the resulting folder to ``<root>/.versions/<name>/<n>/`` with a
``<n>.json`` beside it (action, who, when, content hash); a removal is recorded as a version with no content. A
rollback restores an earlier version and is itself recorded, so it can be rolled back too. These functions do
file work: call them via ``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import PermissionDenied, SkillError
from assistant.messages import utcnow
from assistant.skillbook.library import SkillLibrary, folder_digest
from assistant.skillbook.scan import Finding, scan_skill
from assistant.skillbook.spec import SkillSpec, check_name, load_skill

__all__ = ["Installed", "VersionInfo", "approve", "install", "remove", "rollback", "versions"]

MAX_SKILL_BYTES = 1_000_000
MAX_SKILL_FILES = 200
VERSIONS_DIR = ".versions"


@dataclass(frozen=True, slots=True)
class VersionInfo:
    number: int
    action: str
    by: str
    at: str
    digest: str  # "" for a version in which the skill did not exist (after a removal)


@dataclass(frozen=True, slots=True)
class Installed:
    spec: SkillSpec
    findings: tuple[Finding, ...]
    version: int


def _origin(member_id: int | None) -> str:
    return "team" if member_id is None else "member"


def _check_source(source: Path) -> None:
    if not source.is_dir():
        raise SkillError(f"{source} is not a folder: a skill is a folder with a SKILL.md inside")
    total, count = 0, 0
    for path in source.rglob("*"):
        if path.is_symlink():
            raise SkillError(f"{path.relative_to(source)} is a symbolic link: skills must be plain files")
        if path.is_file():
            count += 1
            total += path.stat().st_size
    if count > MAX_SKILL_FILES or total > MAX_SKILL_BYTES:
        raise SkillError(f"{source.name} has {count} files and {total} bytes: the limit is {MAX_SKILL_FILES} "
                         f"files and {MAX_SKILL_BYTES} bytes")


def versions(library: SkillLibrary, name: str, member_id: int | None) -> list[VersionInfo]:
    vdir = library.root(member_id) / VERSIONS_DIR / check_name(name)
    found = []
    for meta in vdir.glob("*.json") if vdir.is_dir() else ():
        data = json.loads(meta.read_text(encoding="utf-8"))
        found.append(VersionInfo(int(data["number"]), data["action"], data["by"], data["at"], data["digest"]))
    return sorted(found, key=lambda v: v.number)


def _record(library: SkillLibrary, name: str, member_id: int | None, action: str, by: str) -> int:
    root = library.root(member_id)
    vdir = root / VERSIONS_DIR / name
    vdir.mkdir(parents=True, exist_ok=True)
    existing = versions(library, name, member_id)
    number = existing[-1].number + 1 if existing else 1
    folder = root / name
    digest = ""
    if folder.is_dir():
        shutil.copytree(folder, vdir / str(number))
        digest = folder_digest(folder)
    meta = {"number": number, "action": action, "by": by, "at": utcnow().isoformat(), "digest": digest}
    (vdir / f"{number}.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    library.forget_scans()  # every change ends here: the next index reads the folder as it now is
    return number


def _replace_folder(source: Path, target: Path) -> None:
    staging = target.parent / f".staging-{target.name}"
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(source, staging, symlinks=True)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def install(library: SkillLibrary, source: Path, *, member_id: int | None, by: str,
            force: bool = False) -> Installed:
    """Copy a skill folder in as a new version. It stays unapproved (unused) until ``approve``."""
    _check_source(source)
    spec = load_skill(source, _origin(member_id))
    findings = tuple(scan_skill(source))
    if findings and not force:
        listing = "\n  ".join(f.describe() for f in findings)
        raise SkillError(f"skill {spec.name!r} was flagged by the scanner:\n  {listing}\n"
                         "Review it; an admin may install it anyway with --force.")
    root = library.root(member_id)
    root.mkdir(parents=True, exist_ok=True)
    if (root / spec.name).is_dir() and not versions(library, spec.name, member_id):
        _record(library, spec.name, member_id, "found installed", by)  # so the old content can be restored
    _replace_folder(source, root / spec.name)
    number = _record(library, spec.name, member_id, f"install from {source.name}", by)
    return Installed(load_skill(root / spec.name, _origin(member_id)), findings, number)


def approve(library: SkillLibrary, name: str, *, member_id: int | None, by: str, is_admin: bool,
            force: bool = False) -> SkillSpec:
    """Mark the skill's current content as approved. Team skills need an admin; flagged ones need an admin and
    ``force``."""
    check_name(name)
    if member_id is None and not is_admin:
        raise PermissionDenied("team skills are approved by an admin")
    folder = library.root(member_id) / name
    if not folder.is_dir():
        raise SkillError(f"there is no installed {_origin(member_id)} skill named {name!r}")
    findings = scan_skill(folder)
    if findings and not (force and is_admin):
        listing = "\n  ".join(f.describe() for f in findings)
        raise SkillError(f"skill {name!r} was flagged by the scanner:\n  {listing}\n"
                         "Only an admin can approve it, with --force, after reviewing it.")
    library.mark_approved(library.root(member_id), name, folder_digest(folder), by)
    return load_skill(folder, _origin(member_id))


def remove(library: SkillLibrary, name: str, *, member_id: int | None, by: str) -> int:
    folder = library.root(member_id) / check_name(name)
    if not folder.is_dir():
        raise SkillError(f"there is no installed {_origin(member_id)} skill named {name!r}")
    if not versions(library, name, member_id):
        _record(library, name, member_id, "found installed", by)  # keep what was there before the first change
    shutil.rmtree(folder)
    return _record(library, name, member_id, "remove", by)


def rollback(library: SkillLibrary, name: str, *, member_id: int | None, by: str, to: int | None = None) -> str:
    """Restore version ``to`` (default: the one before the current). Returns a sentence saying what happened."""
    history = versions(library, check_name(name), member_id)
    if not history:
        raise SkillError(f"skill {name!r} has no recorded versions to roll back to")
    current = history[-1].number
    target = to if to is not None else current - 1
    known = {v.number: v for v in history}
    if target != 0 and target not in known:
        raise SkillError(f"skill {name!r} has no version {target}; versions: {', '.join(map(str, known))}")
    if target == current:
        raise SkillError(f"skill {name!r} is already at version {current}")
    root = library.root(member_id)
    folder = root / name
    if target == 0 or not known[target].digest:
        if folder.exists():
            shutil.rmtree(folder)
        restored = "removed (that version had no skill)"
    else:
        _replace_folder(root / VERSIONS_DIR / name / str(target), folder)
        restored = f"restored version {target}"
    number = _record(library, name, member_id, f"rollback to {target}", by)
    return f"{name}: {restored}; recorded as version {number}"
