"""Entry point of ``teamclaw``: a table of commands, each imported only when it runs, and errors as one line.

``teamclaw --version`` and ``--help`` read the table and import no command module; ``teamclaw chat`` imports
what chat needs and nothing of backup, onboarding or the service managers.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from assistant import __version__
from assistant.errors import TeamclawError

__all__ = ["COMMANDS", "app", "load_command", "main"]

# command -> (module whose ``register(app: typer.Typer)`` adds it, the first paragraph of its help), in the order
# `teamclaw --help` lists them. A test checks each line against the command's own docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("assistant.cli.core", "Write a commented config file and create the data folder."),
    "run": ("assistant.cli.core", "Run the daemon in the foreground (SIGINT/SIGTERM stop it cleanly)."),
    "chat": ("assistant.cli.core", "Talk to the assistant in this terminal through the console channel."),
    "status": ("assistant.cli.core",
               "Show whether the daemon runs, channel health, queue depth and undelivered messages."),
    "doctor": ("assistant.cli.core",
               "Check config, storage, every model endpoint and every channel credential; say what to fix."),
    "backup": ("assistant.cli.backup",
               "Snapshot the database, memory vectors, workspace, skills and config into one archive, live."),
    "restore": ("assistant.cli.backup",
                "Restore a backup into a data folder, on this machine or another one. Stop the daemon first."),
    "upgrade": ("assistant.cli.backup",
                "Back up, install the new version, migrate and check it starts; roll back if it does not."),
    "logs": ("assistant.cli.backup", "Show the daemon's log (secrets are already redacted in it)."),
    "onboard": ("assistant.cli.onboard",
                "Set up teamclaw: models, Feishu and/or Telegram, owner and time zone; writes teamclaw.toml."),
    "route": ("assistant.cli.route_cmd", "Explain how a message would be routed, without sending it anywhere."),
    "usage": ("assistant.cli.usage_cmd", "Show model usage and cost by member, model and route reason."),
    "bench": ("assistant.cli.bench_cmd", "Run a benchmark profile and print its figures."),
    "service": ("assistant.cli.service",
                "Run teamclaw as a background service (launchd on macOS, systemd on Linux)."),
    "skills": ("assistant.cli.skills_cmd", "Skills: list, show, install, approve, remove, roll back."),
    "memory": ("assistant.cli.memory_cmd", "Memory: ingest, search, list, show, export, import, forget, rebuild."),
}


def load_command(name: str) -> Any:
    """The real click command (or group) ``name``, built from its module's ``register``."""
    module, _ = COMMANDS[name]
    scratch = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    importlib.import_module(module).register(scratch)
    command = typer.main.get_group(scratch).get_command(None, name)  # type: ignore[arg-type]
    if command is None:
        raise LookupError(f"{module}.register adds no command named {name!r}")
    return command


class _Deferred(TyperCommand):
    """Stands for a command in the listing; parsing its arguments loads the real one, which then runs."""

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name, help=help_text, short_help=help_text)  # listed whole, wrapped, not cut

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        return load_command(self.name or "").make_context(info_name, args, parent=parent, **extra)


class _Commands(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = COMMANDS.get(cmd_name)
        return _Deferred(cmd_name, entry[1]) if entry is not None else None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"teamclaw {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="teamclaw",
    cls=_Commands,
    help="A self-hosted AI assistant for your team's Feishu and Telegram group chats.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # The command list in plain text: rendering it with rich panels imported rich, markdown and pygments, which
    # took `teamclaw --help` past 0.15 s. Each command's own help keeps typer's rich layout.
    rich_markup_mode=None,
)


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """teamclaw: your team's assistant in Feishu and Telegram."""


def main() -> None:
    from assistant import lean_imports

    lean_imports.apply()  # before any command imports httpx or chromadb
    try:
        # Standalone: click prints usage errors with the usage line and exits with their code, and maps
        # typer.Exit and Ctrl-C; a TeamclawError comes through to be shown as one line.
        app()
    except TeamclawError as exc:
        from rich.console import Console
        from rich.markup import escape

        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
