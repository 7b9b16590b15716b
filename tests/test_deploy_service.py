"""The service command: the launchd agent and systemd unit it writes, and the exact commands it runs."""

from __future__ import annotations

import plistlib
import shutil
import stat
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.cli import service
from assistant.cli.service import Launchd, RunResult, ServiceSpec, Systemd, execute
from assistant.errors import TeamclawError

REPO = Path(__file__).resolve().parents[1]
LAUNCHD_REQUIRED = {"Label", "ProgramArguments", "RunAtLoad", "KeepAlive", "ThrottleInterval",
                    "StandardOutPath", "StandardErrorPath", "EnvironmentVariables", "WorkingDirectory"}


class RecordingRunner:
    """Answers like launchctl/systemctl would and records each command; ``fail`` names commands that fail."""

    def __init__(self, fail: Sequence[str] = ()) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.fail = set(fail)

    def __call__(self, argv: Sequence[str]) -> RunResult:
        self.calls.append(tuple(argv))
        failing = any(word in argv for word in self.fail)
        return RunResult(5 if failing else 0, "Boot-out failed: 3: No such process" if failing else "")


def _spec(tmp_path: Path, **env: str) -> ServiceSpec:
    return ServiceSpec(program=(shutil.which("true") or "/bin/true", "run"), home=tmp_path / "data home",
                       user_home=tmp_path / "user", uid=501, environment=env)


def test_launchd_install_writes_a_valid_agent_and_bootstraps_it(tmp_path: Path) -> None:
    agent = Launchd(_spec(tmp_path, TELEGRAM_BOT_TOKEN="123:abc"))
    runner = RecordingRunner(fail=["bootout"])  # not loaded yet: bootout fails and that is fine
    execute(agent.plan("install"), runner, echo=lambda _: None)

    path = tmp_path / "user" / "Library" / "LaunchAgents" / "org.teamclaw.daemon.plist"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # carries environment values that may be secrets
    root = ET.fromstring(path.read_bytes())  # well-formed XML with a plist root, as plutil -lint checks
    assert root.tag == "plist" and root.attrib["version"] == "1.0" and root[0].tag == "dict"
    loaded = plistlib.loads(path.read_bytes())
    assert plistlib.loads(plistlib.dumps(loaded)) == loaded
    assert LAUNCHD_REQUIRED <= set(loaded)
    assert loaded["KeepAlive"] == {"SuccessfulExit": False, "Crashed": True}
    assert loaded["RunAtLoad"] is True and loaded["ThrottleInterval"] >= 10
    assert loaded["EnvironmentVariables"]["TEAMCLAW_HOME"] == str(tmp_path / "data home")
    assert loaded["EnvironmentVariables"]["TELEGRAM_BOT_TOKEN"] == "123:abc"
    assert loaded["ProgramArguments"][1:] == ["run"]
    assert runner.calls == [
        ("launchctl", "bootout", "gui/501/org.teamclaw.daemon"),
        ("launchctl", "bootstrap", "gui/501", str(path)),
        ("launchctl", "enable", "gui/501/org.teamclaw.daemon"),
    ]


@pytest.mark.parametrize(("action", "expected"), [
    ("start", [("launchctl", "bootstrap", "gui/501", "{plist}"), ("launchctl", "kickstart", "gui/501/{label}")]),
    ("stop", [("launchctl", "bootout", "gui/501/{label}")]),
    ("restart", [("launchctl", "kickstart", "-k", "gui/501/{label}")]),
    ("status", [("launchctl", "print", "gui/501/{label}")]),
    ("uninstall", [("launchctl", "bootout", "gui/501/{label}")]),
])
def test_launchd_commands(tmp_path: Path, action: str, expected: list[tuple[str, ...]]) -> None:
    agent = Launchd(_spec(tmp_path))
    runner = RecordingRunner()
    execute(agent.plan(action), runner, echo=lambda _: None)  # type: ignore[arg-type]
    fill = {"plist": str(agent.path), "label": "org.teamclaw.daemon"}
    assert runner.calls == [tuple(part.format(**fill) for part in step) for step in expected]


def test_uninstall_removes_the_agent_file(tmp_path: Path) -> None:
    agent = Launchd(_spec(tmp_path))
    execute(agent.plan("install"), RecordingRunner(), echo=lambda _: None)
    assert agent.path.exists()
    execute(agent.plan("uninstall"), RecordingRunner(fail=["bootout"]), echo=lambda _: None)
    assert not agent.path.exists()


def test_a_failing_required_command_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TeamclawError, match="kickstart"):
        execute(Launchd(_spec(tmp_path)).plan("restart"), RecordingRunner(fail=["kickstart"]), echo=lambda _: None)


def test_systemd_install_writes_unit_and_env_file(tmp_path: Path) -> None:
    unit = Systemd(_spec(tmp_path, FEISHU_APP_SECRET="s3cr3t-value"))
    runner = RecordingRunner()
    execute(unit.plan("install"), runner, echo=lambda _: None)
    text = unit.path.read_text()
    assert unit.path == tmp_path / "user" / ".config" / "systemd" / "user" / "teamclaw.service"
    assert "Restart=on-failure" in text and "RestartSec=10" in text and "WantedBy=default.target" in text
    assert f'Environment="TEAMCLAW_HOME={tmp_path / "data home"}"' in text
    assert "s3cr3t-value" not in text  # secrets go to the 0600 environment file, not the unit
    env_file = tmp_path / "data home" / "service.env"
    assert env_file.read_text() == "FEISHU_APP_SECRET=s3cr3t-value\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert runner.calls == [("systemctl", "--user", "daemon-reload"),
                            ("systemctl", "--user", "enable", "--now", "teamclaw.service")]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = Systemd(_spec(tmp_path))
    path = tmp_path / "teamclaw.service"
    path.write_bytes(unit.render())
    done = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr  # not even a warning
    broken = tmp_path / "broken" / "teamclaw.service"
    broken.parent.mkdir()
    broken.write_text(unit.render().decode().replace("Restart=on-failure", "Restart=sometimes"))
    done = subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True, text=True, timeout=60)
    assert "sometimes" in done.stderr  # the check does catch a wrong setting


@pytest.mark.parametrize("action", ["start", "stop", "restart"])
def test_systemd_commands(tmp_path: Path, action: str) -> None:
    runner = RecordingRunner()
    execute(Systemd(_spec(tmp_path)).plan(action), runner, echo=lambda _: None)  # type: ignore[arg-type]
    assert runner.calls == [("systemctl", "--user", action, "teamclaw.service")]


def test_deploy_templates_match_what_the_command_writes() -> None:
    spec = ServiceSpec(program=("__TEAMCLAW_BIN__", "run"), home=Path("__TEAMCLAW_HOME__"),
                       user_home=Path("~"), uid=501)
    assert (REPO / "deploy" / "launchd" / "org.teamclaw.daemon.plist").read_bytes() == Launchd(spec).render()
    assert (REPO / "deploy" / "systemd" / "teamclaw.service").read_bytes() == Systemd(spec).render()


def test_cli_dry_run_prints_the_file_and_commands_and_changes_nothing(tmp_path: Path) -> None:
    app = typer.Typer()
    service.register(app)
    env = {"TEAMCLAW_HOME": str(tmp_path / "home"), "HOME": str(tmp_path / "user"), "TEAMCLAW_CONFIG": ""}
    result = CliRunner().invoke(app, ["service", "install", "--manager", "launchd", "--dry-run"], env=env)
    assert result.exit_code == 0, result.output
    assert "<key>KeepAlive</key>" in result.output
    assert "launchctl bootstrap gui/" in result.output
    assert not (tmp_path / "user" / "Library").exists()
    result = CliRunner().invoke(app, ["service", "stop", "--manager", "systemd", "--dry-run"], env=env)
    assert result.output.strip() == "systemctl --user stop teamclaw.service"
