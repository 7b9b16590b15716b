"""The real daemon as a child process (``python -m assistant.cli.main run``), against stand-ins in this process.

Shared by the crash suite and the load benchmarks: writes a teamclaw.toml that points Telegram (polling) at a
``FakeTelegram`` and the model at a ``ScriptedModelServer``, starts and kills the daemon, and tells when it is
ready (its first ``getUpdates`` call reached the stand-in).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import tomli_w

from tests.standins.model_server import ScriptedModelServer
from tests.standins.telegram_server import FakeTelegram

__all__ = ["DaemonProcess", "daemon_config", "write_daemon_config"]

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


def daemon_config(home: Path, fake: FakeTelegram, model: ScriptedModelServer, *, allowed_chats: list[int],
                  scheduler: bool = True, **sections: Any) -> dict[str, Any]:
    """A daemon config on loopback only: Telegram polling against ``fake``, one instant local model."""
    config: dict[str, Any] = {
        "home": str(home),
        "models": {"standin": {"provider": "openai", "base_url": model.openai_base_url, "model": "instant",
                               "location": "local", "tier": 1, "max_retries": 2, "timeout_s": 30}},
        "channels": {"telegram": {"enabled": True, "token": fake.token, "base_url": fake.base_url,
                                  "base_file_url": fake.base_file_url, "mode": "polling", "poll_timeout_s": 1}},
        "access": {"allowed_chats": [f"telegram:{chat}" for chat in allowed_chats]},
        "memory": {"enabled": False},
        "scheduler": {"enabled": scheduler},
        "heartbeat": {"enabled": False},
        "dashboard": {"enabled": False},
        "agent": {"burst_window_ms": 0, "max_concurrent_turns": 64},
        "logging": {"level": "INFO"},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def write_daemon_config(home: Path, config: dict[str, Any]) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "teamclaw.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


class DaemonProcess:
    """One run of the daemon. ``start()`` spawns it; ``kill()`` is ``kill -9``; ``stop()`` is SIGTERM and a wait.

    Its stdout and stderr go to ``<home>/daemon-<n>.log`` so a failing run can be read afterwards.
    """

    def __init__(self, config_path: Path, home: Path, run_number: int) -> None:
        self._config_path = config_path
        self._home = home
        self._log_path = home / f"daemon-{run_number}.log"
        self._log: IO[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.spawned_at = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        env = {**os.environ, "TEAMCLAW_HOME": str(self._home), "PYTHONPATH": str(REPO_ROOT)}
        env.pop("TEAMCLAW_CONFIG", None)
        self._log = self._log_path.open("ab")
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assistant.cli.main", "run", "--config", str(self._config_path)],
            cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )

    async def wait_ready(self, fake: FakeTelegram, polls_before: int, timeout: float = READY_TIMEOUT_S) -> float:
        """Seconds from spawn until the daemon's first getUpdates (it stores and answers from then on)."""
        await fake.wait_for_polls(polls_before + 1, timeout=timeout)
        return time.perf_counter() - self.spawned_at

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler runs, no buffer is flushed, nothing is closed."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._close_log()

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait: the daemon's clean shutdown. Returns its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self._close_log()
        return code

    def log_text(self) -> str:
        return self._log_path.read_text(encoding="utf-8", errors="replace") if self._log_path.exists() else ""

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
