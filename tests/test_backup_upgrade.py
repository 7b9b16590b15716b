"""``teamclaw upgrade``: backup first, health start in a fresh process, roll back a failed start; and ``logs``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.cli import backup as backup_cli
from assistant.cli.backup import follow_log, health_check, upgrade
from assistant.cli.service import Launchd, RunResult, ServiceSpec
from assistant.storage.db import Database

# The health start as ``teamclaw upgrade`` runs it: a new process, so the newly installed code migrates.
VERIFY = [sys.executable, "-c", "import asyncio, sys; from assistant.cli.backup import health_check; "
          "p = asyncio.run(health_check(None)); print(*p, sep='\\n'); sys.exit(1 if p else 0)"]


class ProcessRunner:
    """Runs commands for real, except service-manager ones, which it only records."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, argv: Sequence[str]) -> RunResult:
        self.calls.append(tuple(argv))
        if argv[0] in ("launchctl", "systemctl"):
            return RunResult(0, "")
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)
        return RunResult(done.returncode, done.stdout + done.stderr)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    (home / "teamclaw.toml").write_text('[team]\nname = "otters"\n', encoding="utf-8")
    monkeypatch.setenv("TEAMCLAW_HOME", str(home))
    monkeypatch.delenv("TEAMCLAW_CONFIG", raising=False)
    asyncio.run(_migrate(home))
    conn = sqlite3.connect(home / "teamclaw.db")
    with conn:
        conn.execute("INSERT INTO members (name, role, private, allowed, created_at) "
                     "VALUES ('Alice', 'owner', 0, 1, '2025-01-01 00:00:00')")
    conn.close()
    yield home


async def _migrate(home: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{home / 'teamclaw.db'}")
    await db.migrate()
    await db.aclose()


def _members(home: Path) -> list[str]:
    conn = sqlite3.connect(home / "teamclaw.db")
    try:
        return [r[0] for r in conn.execute("SELECT name FROM members")]
    finally:
        conn.close()


def test_upgrade_backs_up_migrates_and_passes_the_health_start(home: Path, tmp_path: Path) -> None:
    service = Launchd(ServiceSpec(program=("teamclaw", "run"), home=home, user_home=tmp_path, uid=501))
    runner = ProcessRunner()
    said: list[str] = []
    assert upgrade(None, runner=runner, verify=VERIFY, service=service, echo=said.append)
    assert [c[:2] for c in runner.calls] == [("launchctl", "bootout"), (sys.executable, "-c"),
                                            ("launchctl", "bootstrap"), ("launchctl", "kickstart")]
    assert list((home / "backups").glob("teamclaw-*.tar.gz"))
    assert any("upgrade done" in s for s in said)
    assert _members(home) == ["Alice"]


def test_a_failed_health_start_restores_the_previous_state(home: Path) -> None:
    # The "new version" damages the data and then fails to start: the rollback must undo the damage.
    damaging = [sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                "c.execute('DELETE FROM members'); c.commit(); print('migration 0002 failed'); sys.exit(3)",
                str(home / "teamclaw.db")]
    said: list[str] = []
    assert not upgrade(None, runner=ProcessRunner(), verify=damaging, echo=said.append)
    assert _members(home) == ["Alice"]
    assert any("rolled back" in s and "migration 0002 failed" in s for s in said)


def test_an_unknown_schema_revision_fails_the_real_health_start(home: Path) -> None:
    conn = sqlite3.connect(home / "teamclaw.db")
    with conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999'")  # written by a newer teamclaw
    conn.close()
    said: list[str] = []
    assert not upgrade(None, runner=ProcessRunner(), verify=VERIFY, echo=said.append)
    assert any("rolled back" in s and "0999" in s for s in said)
    conn = sqlite3.connect(home / "teamclaw.db")
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0999"  # as it was
    conn.close()


def test_health_check_names_a_broken_config(home: Path) -> None:
    (home / "teamclaw.toml").write_text('[team]\ntimezone = "Mars/Olympus"\n[nonsense]\nx = 1\n')
    problems = asyncio.run(health_check(None))
    assert len(problems) == 1 and "Mars/Olympus" in problems[0] and "nonsense" in problems[0]


def _log_line(msg: str, **extra: object) -> str:
    return json.dumps({"ts": "2025-01-02T03:04:05.000+00:00", "level": "INFO", "logger": "assistant.agent",
                       "msg": msg, **extra}) + "\n"


def test_logs_shows_the_last_lines_readably(home: Path) -> None:
    (home / "logs").mkdir()
    (home / "logs" / "teamclaw.log").write_text(
        "".join(_log_line(f"turn {i}") for i in range(5)) + _log_line("sent", chat="-100"), encoding="utf-8")
    app = typer.Typer()
    backup_cli.register(app)
    done = CliRunner().invoke(app, ["logs", "-n", "2"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "2025-01-02T03:04:05.000+00:00 INFO    assistant.agent: turn 4",
        '2025-01-02T03:04:05.000+00:00 INFO    assistant.agent: sent  chat="-100"',
    ]
    raw = CliRunner().invoke(app, ["logs", "-n", "1", "--json"])
    assert json.loads(raw.output)["msg"] == "sent"


def test_follow_prints_new_lines_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "teamclaw.log"
    path.write_text(_log_line("old"), encoding="utf-8")
    seen: list[str] = []
    got = {n: threading.Event() for n in (1, 2)}
    stop = threading.Event()

    def emit(line: str) -> None:
        seen.append(json.loads(line)["msg"])
        if len(seen) in got:
            got[len(seen)].set()

    opened = threading.Event()
    follower = threading.Thread(target=follow_log, args=(path, emit),
                                kwargs={"stop": stop.is_set, "opened": opened.set}, daemon=True)
    follower.start()
    try:
        assert opened.wait(10)  # it starts at the end of the file: "old" is not followed
        with path.open("a", encoding="utf-8") as fh:
            fh.write(_log_line("first"))
        assert got[1].wait(10)
        path.rename(tmp_path / "teamclaw.log.1")  # what RotatingFileHandler does
        path.write_text(_log_line("after rotation"), encoding="utf-8")
        assert got[2].wait(10)
    finally:
        stop.set()
        follower.join(10)
    assert seen == ["first", "after rotation"]

