"""``teamclaw skills list|show|install|remove|rollback|approve``: the operator's view of the skill library.

The CLI runs on the machine with the data folder, so whoever runs it acts as an admin (``by`` is "cli").
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from assistant.config import load_config
from assistant.errors import SkillError
from assistant.skillbook import SkillLibrary, changes, scan_skill
from assistant.skillbook.spec import skill_md_path

__all__ = ["register"]

ConfigOption = Annotated[str | None, typer.Option("--config", "-c", help="Path to teamclaw.toml.",
                                                  envvar="TEAMCLAW_CONFIG")]
MemberOption = Annotated[int | None, typer.Option("--member", "-m",
                                                  help="A member's own skills (member id) instead of the team's.")]
NameArg = Annotated[str, typer.Argument(help="The skill's name.")]
_BY = "cli"


def _library(config: str | None) -> SkillLibrary:
    return SkillLibrary.for_config(load_config(config))


def list_skills(config: ConfigOption = None, member: MemberOption = None) -> None:
    """List shipped, team (and a member's) skills, with the reason an unavailable one cannot be used."""
    table = Table("name", "origin", "available", "description")
    for spec in _library(config).index_for(member):
        table.add_row(spec.name, spec.origin, "yes" if spec.available else f"no: {spec.reason}", spec.description)
    Console().print(table)


def show(name: NameArg, config: ConfigOption = None, member: MemberOption = None) -> None:
    """Show a skill's details, its scanner findings, its versions and its instructions."""
    library = _library(config)
    spec = next((s for s in library.index_for(member) if s.name == name), None)
    if spec is None:
        raise SkillError(f"there is no skill named {name!r}; `teamclaw skills list` shows the installed ones")
    typer.echo(f"{spec.name} ({spec.origin}) at {spec.path}")
    typer.echo(f"description: {spec.description}")
    typer.echo(f"available: {'yes' if spec.available else 'no: ' + spec.reason}")
    for label, values in (("needs env", spec.requires_env), ("needs programs", spec.requires_bins),
                          ("allowed tools", spec.allowed_tools)):
        if values:
            typer.echo(f"{label}: {', '.join(values)}")
    for finding in scan_skill(spec.path):
        typer.echo(f"scanner: {finding.describe()}")
    if spec.origin != "shipped":
        for v in changes.versions(library, name, member if spec.origin == "member" else None):
            typer.echo(f"version {v.number}: {v.action} by {v.by} at {v.at}{'' if v.digest else ' (removed)'}")
    typer.echo("")
    typer.echo(skill_md_path(spec.path).read_text(encoding="utf-8", errors="replace"))


def install(source: Annotated[Path, typer.Argument(help="A skill folder (with SKILL.md) to copy in.")],
            config: ConfigOption = None, member: MemberOption = None,
            force: Annotated[bool, typer.Option(help="Install even if the scanner flags it.")] = False) -> None:
    """Copy a skill folder in. It stays unapproved (unused) until `teamclaw skills approve NAME`."""
    installed = changes.install(_library(config), source.expanduser(), member_id=member, by=_BY, force=force)
    for finding in installed.findings:
        typer.echo(f"scanner: {finding.describe()}", err=True)
    where = f" --member {member}" if member is not None else ""
    typer.echo(f"installed {installed.spec.name} as version {installed.version}; review it, then run "
               f"`teamclaw skills approve {installed.spec.name}{where}`")


def approve(name: NameArg, config: ConfigOption = None, member: MemberOption = None,
            force: Annotated[bool, typer.Option(help="Approve even if the scanner flags it.")] = False) -> None:
    """Approve a skill's current content, so the assistant may use it."""
    spec = changes.approve(_library(config), name, member_id=member, by=_BY, is_admin=True, force=force)
    typer.echo(f"approved {spec.name}" + ("" if spec.available else f" (still unavailable: {spec.reason})"))


def remove(name: NameArg, config: ConfigOption = None, member: MemberOption = None) -> None:
    """Remove a team (or member) skill; the removal is a version and can be rolled back."""
    number = changes.remove(_library(config), name, member_id=member, by=_BY)
    typer.echo(f"removed {name} (recorded as version {number}; `teamclaw skills rollback {name}` restores it)")


def rollback(name: NameArg, config: ConfigOption = None, member: MemberOption = None,
             to: Annotated[int | None, typer.Option(help="Version number to restore (default: previous).")]
             = None) -> None:
    """Restore an earlier version of a skill."""
    typer.echo(changes.rollback(_library(config), name, member_id=member, by=_BY, to=to))


def register(app: typer.Typer) -> None:
    skills = typer.Typer(help="Skills: list, show, install, approve, remove, roll back.", no_args_is_help=True)
    skills.command("list")(list_skills)
    for command in (show, install, approve, remove, rollback):
        skills.command()(command)
    app.add_typer(skills, name="skills")
