"""Slash commands that work on every channel without any model (``/help``, ``/remind``, ``/memory`` ...).

A command is a name, a one-line help text and an async handler of ``(args, ctx) -> str``. Packages register their
commands on the registry the daemon builds; dispatch routes any message starting with ``/`` here first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.errors import PermissionDenied, TeamclawError
from assistant.messages import Inbound, MemberScope

if TYPE_CHECKING:
    from assistant.services import Services

__all__ = ["Command", "CommandContext", "CommandRegistry", "parse_command"]


@dataclass(frozen=True, slots=True)
class CommandContext:
    scope: MemberScope
    services: Services
    inbound: Inbound


Handler = Callable[[str, CommandContext], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    handler: Handler
    admin_only: bool = False


def parse_command(text: str, bot_username: str | None = None) -> tuple[str, str] | None:
    """'/remind@teambot in 20m call Bob' -> ('remind', 'in 20m call Bob'); None when it is no command.

    A command addressed to another bot (``/x@otherbot``) is not ours."""
    stripped = text.strip()
    if not stripped.startswith("/") or len(stripped) < 2:
        return None
    head, _, rest = stripped[1:].partition(" ")
    name, _, target = head.partition("@")
    if target and bot_username and target.lower() != bot_username.lower():
        return None
    if not name or not name.replace("_", "").isalnum():
        return None
    return name.lower(), rest.strip()


@dataclass
class CommandRegistry:
    _commands: dict[str, Command] = field(default_factory=dict)

    def register(self, command: Command) -> None:
        if command.name in self._commands:
            raise TeamclawError(f"command /{command.name} is registered twice")
        self._commands[command.name] = command

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def all(self) -> list[Command]:
        return [self._commands[n] for n in sorted(self._commands)]

    async def run(self, name: str, args: str, ctx: CommandContext) -> str:
        command = self._commands.get(name)
        if command is None:
            return f"Unknown command /{name}. Send /help for the list."
        if command.admin_only and not ctx.scope.is_admin:
            return f"/{name} is for admins only."
        try:
            return await command.handler(args, ctx)
        except PermissionDenied as exc:
            return f"Not allowed: {exc}"
