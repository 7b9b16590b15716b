"""``teamclaw service``: run the daemon as a launchd agent (macOS) or a systemd user service (Linux).

Each action is a plan (files to write or remove, commands to run) so ``--dry-run`` prints exactly what would
happen and tests check the commands without running launchctl. Both managers restart the daemon when it exits
non-zero or crashes and leave it stopped when it exits 0: the daemon never exits 0 to ask for a restart.
"""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

import typer

from assistant.config import config_path, load_config
from assistant.errors import ConfigError, TeamclawError

__all__ = [
    "Launchd",
    "Plan",
    "RunResult",
    "Runner",
    "ServiceSpec",
    "Systemd",
    "execute",
    "manager_for",
    "register",
    "subprocess_runner",
]

DEFAULT_LABEL = "org.teamclaw.daemon"
SYSTEMD_UNIT = "teamclaw.service"
THROTTLE_S = 10  # launchd: at least this long between two starts, so a crash loop does not spin
RESTART_S = 10  # systemd: the same pause before a restart
STOP_TIMEOUT_S = 30  # the daemon drains turns for up to 20 s on SIGTERM; then the manager kills it
COMMAND_TIMEOUT_S = 60
DAEMON_ARGS = ("run",)
ENV_FILE = "service.env"
# launchd starts agents with a bare PATH; Homebrew's folders let the daemon find tools such as ollama.
LAUNCHD_PATH = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
Action = Literal["install", "uninstall", "start", "stop", "restart", "status"]


@dataclass(frozen=True, slots=True)
class RunResult:
    returncode: int
    output: str


class Runner(Protocol):
    def __call__(self, argv: Sequence[str]) -> RunResult: ...


def subprocess_runner(argv: Sequence[str]) -> RunResult:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise TeamclawError(f"{argv[0]} not found: this service manager is not available here") from exc
    except subprocess.TimeoutExpired as exc:
        raise TeamclawError(f"{' '.join(argv)} did not finish within {COMMAND_TIMEOUT_S} s") from exc
    return RunResult(done.returncode, (done.stdout or "") + (done.stderr or ""))


@dataclass(frozen=True, slots=True)
class Step:
    argv: tuple[str, ...]
    may_fail: bool = False  # e.g. bootout of an agent that is not loaded


@dataclass
class Plan:
    writes: dict[Path, tuple[bytes, int]] = field(default_factory=dict)  # path -> (content, file mode)
    removes: list[Path] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines: list[str] = []
        for path, (content, mode) in self.writes.items():
            lines += [f"# write {path} (mode {mode:o})", content.decode(), ""]
        lines += [f"# remove {path}" for path in self.removes]
        lines += [("# may fail: " if s.may_fail else "") + " ".join(s.argv) for s in self.steps]
        return "\n".join(lines + self.notes)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """What the service runs and where: the program, the data folder, the user's home, extra environment."""

    program: tuple[str, ...]
    home: Path
    user_home: Path
    uid: int
    label: str = DEFAULT_LABEL
    environment: Mapping[str, str] = field(default_factory=dict)

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"


def execute(plan: Plan, runner: Runner, *, echo: Callable[[str], None] = print) -> list[RunResult]:
    """Write and remove the plan's files, then run its commands in order; a failing required command stops."""
    for path, (content, mode) in plan.writes.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        path.chmod(mode)  # O_CREAT's mode does not apply to a file that already existed
        echo(f"wrote {path}")
    for path in plan.removes:
        if path.exists():
            path.unlink()
            echo(f"removed {path}")
    results = []
    for step in plan.steps:
        result = runner(step.argv)
        results.append(result)
        if result.returncode != 0 and not step.may_fail:
            raise TeamclawError(
                f"`{' '.join(step.argv)}` failed (exit {result.returncode}): {result.output.strip()[:500]}"
            )
    for note in plan.notes:
        echo(note)
    return results


class Launchd:
    """A per-user launchd agent in ~/Library/LaunchAgents, loaded into the user's GUI domain."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.domain = f"gui/{spec.uid}"
        self.target = f"{self.domain}/{spec.label}"

    @property
    def path(self) -> Path:
        return self.spec.user_home / "Library" / "LaunchAgents" / f"{self.spec.label}.plist"

    @property
    def log_files(self) -> list[Path]:
        return [self.spec.log_dir / "service.out.log", self.spec.log_dir / "service.err.log"]

    def definition(self) -> dict[str, Any]:
        env = {"TEAMCLAW_HOME": str(self.spec.home), "PATH": LAUNCHD_PATH, **self.spec.environment}
        return {
            "Label": self.spec.label,
            "ProgramArguments": list(self.spec.program),
            "EnvironmentVariables": env,
            "WorkingDirectory": str(self.spec.home),
            "RunAtLoad": True,
            # Restart after a non-zero exit or a crash; an exit 0 is a deliberate stop and stays stopped.
            "KeepAlive": {"SuccessfulExit": False, "Crashed": True},
            "ThrottleInterval": THROTTLE_S,
            "ExitTimeOut": STOP_TIMEOUT_S,
            "ProcessType": "Standard",
            "StandardOutPath": str(self.log_files[0]),
            "StandardErrorPath": str(self.log_files[1]),
        }

    def render(self) -> bytes:
        return plistlib.dumps(self.definition(), sort_keys=True)

    def plan(self, action: Action) -> Plan:
        plan = Plan()
        bootstrap = Step(("launchctl", "bootstrap", self.domain, str(self.path)))
        if action == "install":
            # Environment values may be secrets: the agent file is readable by its owner only.
            plan.writes[self.path] = (self.render(), 0o600)
            plan.steps += [Step(("launchctl", "bootout", self.target), may_fail=True), bootstrap,
                           Step(("launchctl", "enable", self.target))]
            plan.notes.append(f"installed {self.spec.label}: it starts now and at every login; "
                              "turn on automatic login so it also starts after a power cut")
        elif action == "uninstall":
            plan.steps.append(Step(("launchctl", "bootout", self.target), may_fail=True))
            plan.removes.append(self.path)
        elif action == "start":
            plan.steps += [Step(bootstrap.argv, may_fail=True), Step(("launchctl", "kickstart", self.target))]
        elif action == "stop":
            plan.steps.append(Step(("launchctl", "bootout", self.target)))
            plan.notes.append("stopped until the next `teamclaw service start` or the next login")
        elif action == "restart":
            plan.steps.append(Step(("launchctl", "kickstart", "-k", self.target)))
        elif action == "status":
            plan.steps.append(Step(("launchctl", "print", self.target), may_fail=True))
        return plan

    def logs_command(self, lines: int, follow: bool) -> list[str]:
        return ["tail", "-n", str(lines), *(["-F"] if follow else []), *map(str, self.log_files)]


def _systemd_quote(value: str) -> str:
    # '%' starts a unit-file specifier; quotes keep paths with spaces in one argument.
    value = value.replace("%", "%%").replace("\\", "\\\\").replace('"', '\\"')
    return f'"{value}"' if any(c.isspace() for c in value) or not value else value


class Systemd:
    """A systemd user service in ~/.config/systemd/user, managed with ``systemctl --user``."""

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.unit = SYSTEMD_UNIT

    @property
    def path(self) -> Path:
        return self.spec.user_home / ".config" / "systemd" / "user" / self.unit

    @property
    def env_file(self) -> Path:
        return self.spec.home / ENV_FILE

    def render(self) -> bytes:
        exec_start = " ".join(_systemd_quote(a) for a in self.spec.program)
        home = str(self.spec.home).replace("%", "%%")
        text = f"""[Unit]
Description=teamclaw, the team's AI assistant
After=network-online.target
Wants=network-online.target
# Never give up restarting: the machine runs unattended.
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart={exec_start}
WorkingDirectory={home}
Environment={_systemd_quote("TEAMCLAW_HOME=" + str(self.spec.home))}
EnvironmentFile=-{str(self.env_file).replace("%", "%%")}
# Restart after a non-zero exit or a crash; an exit 0 is a deliberate stop and stays stopped.
Restart=on-failure
RestartSec={RESTART_S}
TimeoutStopSec={STOP_TIMEOUT_S}
KillSignal=SIGTERM

[Install]
WantedBy=default.target
"""
        return text.encode()

    def plan(self, action: Action) -> Plan:
        plan = Plan()
        ctl = ("systemctl", "--user")
        if action == "install":
            plan.writes[self.path] = (self.render(), 0o644)
            if self.spec.environment:
                env = "".join(f"{k}={v}\n" for k, v in self.spec.environment.items())
                plan.writes[self.env_file] = (env.encode(), 0o600)
            plan.steps += [Step((*ctl, "daemon-reload")), Step((*ctl, "enable", "--now", self.unit))]
            plan.notes.append("to keep it running when you are logged out and start it at boot: "
                              "sudo loginctl enable-linger $USER")
        elif action == "uninstall":
            plan.steps.append(Step((*ctl, "disable", "--now", self.unit), may_fail=True))
            plan.removes.append(self.path)
            plan.steps.append(Step((*ctl, "daemon-reload")))
        elif action == "status":
            plan.steps.append(Step((*ctl, "status", "--no-pager", self.unit), may_fail=True))
        else:
            plan.steps.append(Step((*ctl, action, self.unit)))
        return plan

    def logs_command(self, lines: int, follow: bool) -> list[str]:
        return ["journalctl", "--user", "-u", self.unit, "-n", str(lines), "--no-pager", *(["-f"] if follow else [])]


def default_program() -> tuple[str, ...]:
    """The installed ``teamclaw`` beside this interpreter (a venv's bin), else ``python -m``."""
    script = Path(sys.executable).with_name("teamclaw")
    if script.exists():
        return (str(script), *DAEMON_ARGS)
    return (sys.executable, "-m", "assistant.cli.main", *DAEMON_ARGS)


def manager_for(kind: str, spec: ServiceSpec) -> Launchd | Systemd:
    if kind == "launchd":
        return Launchd(spec)
    if kind == "systemd":
        return Systemd(spec)
    raise ConfigError(f"no service manager {kind!r}: use launchd (macOS) or systemd (Linux)")


def _platform_manager() -> str:
    if sys.platform == "darwin":
        return "launchd"
    if sys.platform.startswith("linux"):
        return "systemd"
    raise ConfigError(f"`teamclaw service` supports macOS and Linux, not {sys.platform}; run `teamclaw run`")


def _spec(config: str | None, label: str, env_names: Sequence[str]) -> ServiceSpec:
    cfg = load_config(config)
    environment: dict[str, str] = {}
    if config:
        environment["TEAMCLAW_CONFIG"] = str(config_path(config).resolve())
    for name in env_names:
        if name not in os.environ:
            raise ConfigError(f"--env {name}: that variable is not set in this shell; export it first")
        environment[name] = os.environ[name]
    return ServiceSpec(program=default_program(), home=cfg.data_dir.resolve(), user_home=Path.home(),
                       uid=os.getuid(), label=label, environment=environment)


ConfigOpt = Annotated[str | None, typer.Option("--config", "-c", help="Path to teamclaw.toml.",
                                               envvar="TEAMCLAW_CONFIG")]
ManagerOpt = Annotated[str | None, typer.Option("--manager", help="launchd or systemd (default: this OS's).")]
LabelOpt = Annotated[str, typer.Option("--label", help="launchd label of the agent.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the file and the commands; change nothing.")]


def _act(action: Action, config: str | None, manager: str | None, label: str, dry_run: bool,
         env_names: Sequence[str] = ()) -> None:
    svc = manager_for(manager or _platform_manager(), _spec(config, label, env_names))
    plan = svc.plan(action)
    if dry_run:
        typer.echo(plan.describe())
        return
    for result in execute(plan, subprocess_runner, echo=typer.echo):
        if action == "status" and result.output:
            typer.echo(result.output.rstrip())


def register(app: typer.Typer) -> None:
    service = typer.Typer(help="Run teamclaw as a background service (launchd on macOS, systemd on Linux).",
                          no_args_is_help=True)

    @service.command()
    def install(config: ConfigOpt = None, manager: ManagerOpt = None, label: LabelOpt = DEFAULT_LABEL,
                dry_run: DryRunOpt = False,
                env: Annotated[list[str] | None, typer.Option(
                    "--env", help="Copy this environment variable (e.g. a secret named by *_env) into the "
                    "service; repeatable.")] = None) -> None:
        """Write the service file, load it and start the daemon (also at every login / boot)."""
        _act("install", config, manager, label, dry_run, env or [])

    def simple(action: Action, doc: str) -> None:
        def command(config: ConfigOpt = None, manager: ManagerOpt = None, label: LabelOpt = DEFAULT_LABEL,
                    dry_run: DryRunOpt = False) -> None:
            _act(action, config, manager, label, dry_run)

        command.__doc__ = doc
        service.command(name=action)(command)

    simple("uninstall", "Stop the daemon and remove the service file.")
    simple("start", "Start the daemon.")
    simple("stop", "Stop the daemon (it stays installed).")
    simple("restart", "Restart the daemon, e.g. after editing teamclaw.toml.")
    simple("status", "Show whether the service manager runs the daemon.")

    @service.command()
    def logs(config: ConfigOpt = None, manager: ManagerOpt = None, label: LabelOpt = DEFAULT_LABEL,
             lines: Annotated[int, typer.Option("-n", "--lines", help="Lines to show.")] = 100,
             follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new lines.")] = False
             ) -> None:
        """Show the service manager's log of the daemon (start-up errors, crashes)."""
        svc = manager_for(manager or _platform_manager(), _spec(config, label, ()))
        argv = svc.logs_command(lines, follow)
        try:
            raise typer.Exit(subprocess.call(argv))
        except FileNotFoundError as exc:
            raise TeamclawError(f"{argv[0]} not found; use `teamclaw logs` for the daemon's own log") from exc

    app.add_typer(service, name="service")
