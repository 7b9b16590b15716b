"""Entry point of ``teamclaw``: builds the typer app from the command modules and maps errors to one line."""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from rich.markup import escape

from assistant.errors import TeamclawError

__all__ = ["app", "main"]

# One module per command group; each exposes ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = (
    "assistant.cli.core",
    "assistant.cli.service",
    "assistant.cli.backup",
    "assistant.cli.onboard",
    "assistant.cli.skills_cmd",
    "assistant.cli.memory_cmd",
    "assistant.cli.route_cmd",
    "assistant.cli.usage_cmd",
    "assistant.cli.bench_cmd",
)


def build_app() -> typer.Typer:
    cli = typer.Typer(
        name="teamclaw",
        help="A self-hosted AI assistant for your team's Feishu and Telegram group chats.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(cli)
    return cli


app = build_app()


def main() -> None:
    try:
        # With standalone_mode=False click returns the code of a typer.Exit instead of exiting.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except TeamclawError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click's usage errors arrive here in standalone_mode=False
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
