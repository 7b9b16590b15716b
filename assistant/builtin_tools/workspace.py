"""A member's workspace folder, ``<home>/workspace/members/<member_id>/``, and the one check every path passes.

Files, shell and send_file tools all resolve paths here: relative paths only, no ``..`` parts, and the resolved
path (symlinks followed) must stay inside the member's folder. Checking after ``resolve()`` is what stops a
symlink planted inside the workspace from pointing out of it.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from assistant.config import Config
from assistant.errors import ScopeError
from assistant.messages import MemberScope

__all__ = ["member_workspace", "resolve_in_workspace"]


def member_workspace(config: Config, scope: MemberScope, *, create: bool = True) -> Path:
    folder = config.workspace_dir / "members" / str(int(scope.member_id))
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


def resolve_in_workspace(workspace: Path, relative: str) -> Path:
    """``relative`` inside ``workspace``, or ``ScopeError`` naming what was wrong with it."""
    text = relative.strip()
    if not text or text in (".", "./"):
        return workspace
    if "\0" in text:
        raise ScopeError("the path contains a NUL character")
    posix, windows = PurePosixPath(text), PureWindowsPath(text)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or text.startswith("~"):
        raise ScopeError(f"{relative!r} is an absolute path: use a path relative to your workspace folder")
    if ".." in posix.parts or ".." in windows.parts:
        raise ScopeError(f"{relative!r} climbs out with '..': use a path inside your workspace folder")
    candidate = (workspace / posix).resolve()
    if not candidate.is_relative_to(workspace):
        raise ScopeError(f"{relative!r} leads outside your workspace folder (through a link)")
    return candidate
