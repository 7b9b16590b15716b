"""The operator's commands as a person runs them: init, doctor, status, and a clean stop of `teamclaw run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import cloud_model, local_model, write_config
from tests.standins.model_server import ScriptedModelServer
from tests.standins.telegram_server import FakeTelegram


def _cli(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TEAMCLAW_HOME": str(home)}, check=False)


def test_init_writes_a_config_that_loads_and_the_workspace(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = _cli(["init"], home)
    assert result.returncode == 0, result.stderr
    config = (home / "teamclaw.toml").read_text(encoding="utf-8")
    assert "[team]" in config and oct((home / "teamclaw.toml").stat().st_mode & 0o777) == "0o600"
    assert (home / "workspace" / "SOUL.md").exists() and (home / "workspace" / "AGENTS.md").exists()
    again = _cli(["init"], home)
    assert again.returncode == 0 and "exists already" in again.stdout
    assert (home / "teamclaw.toml").read_text(encoding="utf-8") == config


def test_doctor_names_each_problem_of_a_broken_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "teamclaw.toml").write_text(
        '[team]\ntimezone = "Nowhere/Land"\n\n[agent]\nmax_steps = 0\n\n[models.x]\nprovider = "openai"\n',
        encoding="utf-8")
    result = _cli(["doctor"], home)
    assert result.returncode == 1
    for problem in ("team.timezone", "agent.max_steps", "models.x", "base_url is empty"):
        assert problem in result.stdout, problem


def test_doctor_checks_models_and_channel_credentials_live(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with ScriptedModelServer() as up, FakeTelegram() as telegram:
        write_config(home, {
            "models": {"up": local_model(up),
                       "down": local_model(up, base_url="http://127.0.0.1:9/v1", max_retries=0)},
            "channels": {"telegram": {"enabled": True, "token": "123:wrong-token",
                                      "base_url": telegram.base_url, "base_file_url": telegram.base_file_url}},
        })
        result = _cli(["doctor"], home)
    assert result.returncode == 1
    assert "ok   model up" in result.stdout
    assert "FAIL model down" in result.stdout and "[models.down]" in result.stdout
    assert "FAIL telegram token rejected" in result.stdout and "@BotFather" in result.stdout
    assert "123:wrong-token" not in result.stdout
    assert "privacy routing has no reachable local model" not in result.stdout  # "up" is local and answers


def test_doctor_warns_when_privacy_routing_has_no_local_model(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with ScriptedModelServer() as cloud:
        write_config(home, {"models": {"cloud": cloud_model(cloud)}, "routing": {"bundled_model": False}})
        result = _cli(["doctor"], home)
    assert "WARN privacy routing has no reachable local model" in result.stdout, result.stdout
    assert "teamclaw onboard" in result.stdout


def test_run_stops_cleanly_on_sigterm_and_status_tells(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with ScriptedModelServer() as model, FakeTelegram() as telegram:
        write_config(home, {
            "models": {"standin": local_model(model)},
            "channels": {"telegram": {"enabled": True, "token": telegram.token, "base_url": telegram.base_url,
                                      "base_file_url": telegram.base_file_url, "poll_timeout_s": 1}},
        })
        proc = subprocess.Popen([sys.executable, "-m", "assistant.cli.main", "run"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env={**os.environ, "TEAMCLAW_HOME": str(home)})
        status_file = home / "run" / "status.json"
        deadline = time.monotonic() + 60
        while not status_file.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert status_file.exists(), proc.stderr.read() if proc.stderr else ""
        running = json.loads(_cli(["status", "--json"], home).stdout)
        assert running["daemon"]["running"] is True and "telegram" in running["daemon"]["channels"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    stopped = json.loads(_cli(["status", "--json"], home).stdout)
    assert stopped["daemon"]["running"] is False
