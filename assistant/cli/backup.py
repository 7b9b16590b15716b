"""``teamclaw backup``, ``restore``, ``upgrade`` and ``logs``: keeping a home safe, movable and readable.

``upgrade`` backs up first, stops the service, installs the new package (when asked), then runs a health start
in a fresh process (so the new code runs the migrations and checks); if that fails it restores the backup,
reinstalls the previous version and says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant import __version__
from assistant.cli.service import DEFAULT_LABEL, Launchd, Runner, ServiceSpec, Systemd, execute, subprocess_runner
from assistant.cli.snapshot import home_is_empty, make_backup, restore_backup
from assistant.config import config_path, home_dir, load_config
from assistant.errors import TeamclawError
from assistant.logs import log_file

__all__ = ["follow_log", "health_check", "register", "render_log_line", "tail_log", "upgrade"]

FOLLOW_POLL_S = 0.5
PACKAGE_NAME = "teamclaw"


# ---- health start -------------------------------------------------------------------------------------------


async def health_check(config: str | Path | None) -> list[str]:
    """What a start would trip over, offline: the config, migrations, database integrity, the data folders.
    Returns one line per problem; empty means healthy."""
    from sqlalchemy import inspect

    from assistant.storage.db import Database
    from assistant.storage.schema import full_metadata

    try:
        cfg = load_config(config)
    except TeamclawError as exc:
        return [f"config: {exc}"]
    problems: list[str] = []
    db = Database(cfg.database_url)
    try:
        await db.migrate()
        if not await db.integrity_ok():
            problems.append("database: integrity check failed; restore a backup (`teamclaw restore FILE`)")
        async with db.engine.connect() as conn:
            present = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        missing = sorted(set(full_metadata().tables) - present)
        if missing:
            problems.append(f"database: tables missing after migration: {', '.join(missing)}")
    except Exception as exc:  # the health start's boundary: every failure becomes a line the user reads
        problems.append(f"database: {type(exc).__name__}: {exc}")
    finally:
        await db.aclose()
    for folder in (cfg.data_dir, cfg.workspace_dir):
        if folder.exists() and not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
            problems.append(f"{folder}: not readable and writable by this user")
    return problems


def _installed_service(home: Path) -> Launchd | Systemd | None:
    spec = ServiceSpec(program=(), home=home, user_home=Path.home(), uid=os.getuid(), label=DEFAULT_LABEL)
    for svc in (Launchd(spec), Systemd(spec)):
        if svc.path.exists():
            return svc
    return None


def upgrade(config: str | None, *, runner: Runner, verify: Sequence[str], package: str | None = None,
            service: Launchd | Systemd | None = None, echo: Callable[[str], None] = print) -> bool:
    """Back up, stop the service, install ``package``, run ``verify`` (the health start); roll back on failure.

    Returns True when the upgraded teamclaw passed its health start. ``verify`` runs as a separate process so
    that the newly installed code, not this process's, applies the migrations.
    """
    file = config_path(config)
    cfg = load_config(config)
    archive = make_backup(cfg, file)
    echo(f"backed up {cfg.data_dir} to {archive}")
    if service is not None:
        execute(service.plan("stop"), runner, echo=echo)
    failure = None
    if package:
        installed = runner([sys.executable, "-m", "pip", "install", "--upgrade", package])
        if installed.returncode != 0:
            failure = f"installing {package} failed: {installed.output.strip()[-800:]}"
    if failure is None:
        checked = runner(list(verify))
        if checked.returncode != 0:
            failure = f"the health start failed:\n{checked.output.strip()[-2000:]}"
    if failure is not None:
        restore_backup(archive, cfg.data_dir, force=True, echo=echo)
        if package:
            runner([sys.executable, "-m", "pip", "install", f"{PACKAGE_NAME}=={__version__}"])
            echo(f"reinstalled {PACKAGE_NAME} {__version__}")
        echo(f"upgrade rolled back: {failure}\nthe data folder is back to its state before the upgrade "
             f"(from {archive})")
    else:
        echo("upgrade done: migrations applied and the health start passed")
    if service is not None:
        execute(service.plan("start"), runner, echo=echo)
    return failure is None


# ---- logs ---------------------------------------------------------------------------------------------------


def render_log_line(line: str) -> str:
    """A JSON log line as one readable line (time, level, logger, message, extras, traceback)."""
    try:
        entry: dict[str, Any] = json.loads(line)
    except ValueError:
        return line.rstrip("\n")
    if not isinstance(entry, dict):
        return line.rstrip("\n")
    head = f"{entry.pop('ts', '')} {entry.pop('level', ''):<7} {entry.pop('logger', '')}: {entry.pop('msg', '')}"
    exc = entry.pop("exc", None)
    extras = " ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in entry.items())
    return head + (f"  {extras}" if extras else "") + (f"\n{exc}" if exc else "")


def tail_log(path: Path, lines: int) -> list[str]:
    if not path.exists():
        raise TeamclawError(f"{path} does not exist yet: the daemon writes it once it runs")
    with path.open(encoding="utf-8", errors="replace") as fh:
        return list(deque(fh, maxlen=lines))


def follow_log(path: Path, emit: Callable[[str], None], *, stop: Callable[[], bool] = lambda: False,
               opened: Callable[[], None] = lambda: None) -> None:
    """Print lines appended to ``path``, across rotations, until ``stop()`` or Ctrl-C; ``opened()`` is called
    once the file is open at its end. A file has no change event that works on macOS and Linux alike without
    extra packages, so this polls, like ``tail -F``."""
    handle = path.open(encoding="utf-8", errors="replace")
    handle.seek(0, os.SEEK_END)
    inode = os.fstat(handle.fileno()).st_ino
    opened()
    try:
        while not stop():
            line = handle.readline()
            if line:
                emit(line)
                continue
            try:
                current = os.stat(path)
            except FileNotFoundError:
                current = None
            if current is not None and (current.st_ino != inode or current.st_size < handle.tell()):
                handle.close()  # rotated: the daemon now writes a new file under the same name
                handle = path.open(encoding="utf-8", errors="replace")
                inode = os.fstat(handle.fileno()).st_ino
                continue
            time.sleep(FOLLOW_POLL_S)
    finally:
        handle.close()


# ---- commands -----------------------------------------------------------------------------------------------

ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", help="Path to teamclaw.toml.",
                                               envvar="TEAMCLAW_CONFIG")]


def register(app: typer.Typer) -> None:
    @app.command()
    def backup(config: ConfigOpt = None,
               out: Annotated[Path | None, typer.Option("--out", "-o", help="Archive to write (.tar.gz).")] = None,
               skip_database: Annotated[bool, typer.Option(
                   "--skip-database", help="Leave out a non-SQLite database (back it up with its own tool).")
               ] = False) -> None:
        """Snapshot the database, memory vectors, workspace, skills and config into one archive, live."""
        cfg = load_config(config)
        archive = make_backup(cfg, config_path(config), out, skip_database=skip_database)
        typer.echo(f"wrote {archive} ({archive.stat().st_size:,} bytes)")

    @app.command()
    def restore(archive: Annotated[Path, typer.Argument(help="A file written by `teamclaw backup`.")],
                home: Annotated[Path | None, typer.Option(
                    "--home", help="Data folder to restore into (default: TEAMCLAW_HOME or ~/.teamclaw).")] = None,
                force: Annotated[bool, typer.Option(
                    "--force", help="Replace the contents of a non-empty data folder.")] = False) -> None:
        """Restore a backup into a data folder, on this machine or another one. Stop the daemon first."""
        target = (home or home_dir()).expanduser()
        _refuse_if_running(target)
        result = restore_backup(archive, target, force=force, echo=typer.echo)
        manifest = result.manifest
        typer.echo(f"restored {len(manifest['files'])} files into {result.home} (teamclaw "
                   f"{manifest['teamclaw_version']}, schema {manifest['schema_revision']}, taken "
                   f"{manifest['created_at']}); start it with `teamclaw run` or `teamclaw service start`")

    @app.command(name="upgrade")
    def upgrade_cmd(config: ConfigOpt = None,
                    package: Annotated[str | None, typer.Option(
                        "--package", help="pip requirement to install first, e.g. 'teamclaw==0.2.0' or a wheel.")
                    ] = None,
                    verify_only: Annotated[bool, typer.Option(
                        "--verify-only", hidden=True, help="Run the health start in this process.")] = False,
                    ) -> None:
        """Back up, install the new version, migrate and check it starts; roll back if it does not."""
        if verify_only:
            problems = asyncio.run(health_check(config))
            for problem in problems:
                typer.echo(problem, err=True)
            raise typer.Exit(1 if problems else 0)
        cfg = load_config(config)
        verify = [sys.executable, "-m", "assistant.cli.main", "upgrade", "--verify-only"]
        if config:
            verify += ["--config", str(config_path(config).resolve())]
        ok = upgrade(config, runner=subprocess_runner, verify=verify, package=package,
                     service=_installed_service(cfg.data_dir.resolve()), echo=typer.echo)
        if not ok:
            raise typer.Exit(1)

    @app.command()
    def logs(config: ConfigOpt = None,
             lines: Annotated[int, typer.Option("-n", "--lines", help="Lines to show.")] = 50,
             follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")] = False,
             raw: Annotated[bool, typer.Option("--json", help="Print the JSON lines as they are.")] = False,
             ) -> None:
        """Show the daemon's log (secrets are already redacted in it)."""
        cfg = load_config(config)
        path = log_file(cfg.logging, cfg.data_dir)
        show = (lambda line: typer.echo(line.rstrip("\n"))) if raw else (lambda line: typer.echo(render_log_line(line)))
        for line in tail_log(path, lines):
            show(line)
        if follow:
            try:
                follow_log(path, show)
            except KeyboardInterrupt:
                return


def _refuse_if_running(home: Path) -> None:
    """Restoring under a running daemon would mix two states; its status file says whether one runs."""
    status = home / "run" / "status.json"
    if not status.exists() or home_is_empty(home):
        return
    try:
        data = json.loads(status.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    import psutil

    pid = data.get("pid")
    if data.get("running") and isinstance(pid, int) and pid != os.getpid() and psutil.pid_exists(pid):
        raise TeamclawError(f"teamclaw runs on {home} (pid {pid}): stop it first (`teamclaw service stop`)")
