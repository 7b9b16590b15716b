"""The ``shell`` tool and the ``/approve`` command: allowlisted programs run in the member's workspace.

Off unless ``tools.shell_enabled``; only members in ``tools.shell_members`` get the tool. A command runs without a
shell (argv, no expansion), in the member's workspace folder, with a minimal environment (no secrets of the
daemon), a time limit and an output limit. A program outside the allowlist, or an argument naming a path outside
the workspace, is not run: a pending approval is stored and the member approves it with
``/approve <id> once|session|always`` (or ``/approve <id> deny``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, Field

from assistant.builtin_tools import approvals
from assistant.builtin_tools.permissions import shell_permitted
from assistant.builtin_tools.workspace import member_workspace
from assistant.commands import Command, CommandContext, CommandRegistry
from assistant.config import Config, ToolsConfig
from assistant.errors import PermissionDenied, ToolError
from assistant.messages import MemberScope
from assistant.tools import Tool, ToolContext, ToolResult

__all__ = ["register_shell_commands", "run_command", "shell_tool"]

_READ_CHUNK = 65_536


class ShellArgs(BaseModel):
    command: str = Field(description="One command line, e.g. 'grep -n TODO notes.md'; no pipes or redirections")


def _path_outside(arg: str) -> bool:
    for piece in arg.split("="):
        if piece.startswith(("/", "~")) or ".." in PurePosixPath(piece).parts:
            return True
    return False


def _why_not_allowed(argv: list[str], cfg: ToolsConfig) -> str:
    """Empty when the command may run without approval; otherwise the reason shown to the member."""
    program = argv[0]
    if "/" in program or program not in cfg.shell_allowlist:
        return f"{program!r} is not in the shell allowlist"
    outside = [a for a in argv[1:] if _path_outside(a)]
    if outside:
        return f"{' '.join(outside)!r} points outside the workspace"
    return ""


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


async def run_command(argv: list[str], workspace: Path, cfg: ToolsConfig) -> str:
    """Run argv in ``workspace`` with the configured limits; returns exit status and output as text."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(workspace), "LANG": "C.UTF-8",
           "LC_ALL": "C.UTF-8"}
    executable = shutil.which(argv[0], path=env["PATH"]) if "/" not in argv[0] else argv[0]
    if executable is None:
        raise ToolError(f"{argv[0]!r} is not installed on this machine")
    process = await asyncio.create_subprocess_exec(
        executable, *argv[1:], cwd=workspace, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
    )
    kept = bytearray()
    dropped = 0
    timed_out = False
    try:
        async with asyncio.timeout(cfg.shell_timeout_s):
            assert process.stdout is not None
            while chunk := await process.stdout.read(_READ_CHUNK):
                room = max(0, cfg.shell_max_output - len(kept))
                kept += chunk[:room]
                dropped += len(chunk) - min(room, len(chunk))
            await process.wait()
    except TimeoutError:
        timed_out = True
    finally:
        await _kill(process)  # also on cancellation: no process outlives its tool call
    text = kept.decode("utf-8", errors="replace")
    if dropped:
        text += f"\n[... {dropped} more bytes of output cut]"
    status = f"killed after {cfg.shell_timeout_s:.0f} s" if timed_out else f"exit status {process.returncode}"
    return f"$ {shlex.join(argv)}\n({status})\n{text}"


def _argv(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ToolError(f"the command line cannot be parsed: {exc}") from exc
    if not argv:
        raise ToolError("the command is empty")
    return argv


async def _shell(args: ShellArgs, ctx: ToolContext) -> ToolResult:
    config: Config = ctx.services.config
    if not config.tools.shell_enabled:
        raise PermissionDenied("shell commands are disabled (tools.shell_enabled)")
    argv = _argv(args.command)
    workspace = member_workspace(config, ctx.scope)
    reason = _why_not_allowed(argv, config.tools)
    if reason:
        grant = await approvals.find_grant(ctx.services.db, member_id=ctx.scope.member_id,
                                           session_key=ctx.scope.session_key, program=argv[0])
        if grant is None or _path_outside_any(argv):
            approval_id = await approvals.create_pending(
                ctx.services.db, member_id=ctx.scope.member_id, session_key=ctx.scope.session_key,
                program=argv[0], command_line=shlex.join(argv), reason=reason)
            return ToolResult(f"needs approval: {reason}. Ask {ctx.scope.member_name} to send "
                              f"/approve {approval_id} once|session|always (or /approve {approval_id} deny) "
                              f"to run: {shlex.join(argv)}")
    return ToolResult(await run_command(argv, workspace, config.tools), private=ctx.scope.private)


def _path_outside_any(argv: list[str]) -> bool:
    # A standing grant covers a program, not paths outside the workspace: those are approved one by one.
    return any(_path_outside(a) for a in argv[1:])


def shell_tool(config: ToolsConfig) -> Tool:
    return Tool(
        "shell",
        f"Run one command in your workspace folder (no shell features). Allowed without approval: "
        f"{', '.join(config.shell_allowlist)}. Anything else asks the member for approval first.",
        ShellArgs, _shell, timeout_s=config.shell_timeout_s + 5.0,
    )


_APPROVE_USAGE = "Usage: /approve ID once|session|always, or /approve ID deny; /approve alone lists requests."


async def _approve(args: str, ctx: CommandContext) -> str:
    config: Config = ctx.services.config
    identity = f"{ctx.inbound.channel}:{ctx.inbound.sender_id}"
    if not shell_permitted(ctx.scope, config, (identity,)):
        raise PermissionDenied("shell commands are not enabled for you")
    words = args.split()
    if not words:
        rows = await approvals.pending_for(ctx.services.db, ctx.scope.member_id)
        if not rows:
            return "No commands are waiting for approval."
        return "Waiting for approval:\n" + "\n".join(f"#{r.id}: {r.command_line} ({r.reason})" for r in rows)
    if len(words) != 2 or not words[0].lstrip("#").isdigit() or words[1] not in ("once", "session", "always",
                                                                                  "deny"):
        return _APPROVE_USAGE
    approval_id, choice = int(words[0].lstrip("#")), words[1]
    grant: approvals.Grant | None = None if choice == "deny" else choice  # type: ignore[assignment]
    row = await approvals.decide(ctx.services.db, approval_id, member_id=ctx.scope.member_id, grant=grant)
    if row is None:
        return f"There is no pending request #{approval_id} of yours."
    if grant is None:
        return f"Denied #{approval_id}: {row.command_line}"
    output = await _run_approved(row, ctx.scope, config)
    scope_words = {"once": "this once", "session": f"{row.program} for this conversation",
                   "always": f"{row.program} from now on"}
    return f"Approved {scope_words[grant]}.\n{output}"


async def _run_approved(row: approvals.ShellApproval, scope: MemberScope, config: Config) -> str:
    try:
        return await run_command(shlex.split(row.command_line), member_workspace(config, scope), config.tools)
    except ToolError as exc:
        return f"The command could not run: {exc}"


def register_shell_commands(registry: CommandRegistry) -> None:
    registry.register(Command("approve", "Approve a waiting shell command: /approve ID once|session|always",
                              _approve))
