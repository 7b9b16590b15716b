"""Backup while the daemon writes, restore elsewhere, compare; refusals, damage detection and the CLI."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import stat
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.cli import backup as backup_cli
from assistant.cli.snapshot import make_backup, restore_backup
from assistant.config import load_config
from assistant.errors import StorageError, TeamclawError
from assistant.storage.db import Database

CONFIG = '[team]\nname = "otters"\ntimezone = "Asia/Shanghai"\n\n[channels.telegram]\ntoken_env = "OTTER_TOKEN"\n'


def _make_home(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "teamclaw.toml").write_text(CONFIG, encoding="utf-8")
    asyncio.run(_migrate(home))
    (home / "workspace").mkdir()
    (home / "workspace" / "SOUL.md").write_text("You are the otters' assistant. 你好\n", encoding="utf-8")
    (home / "skills" / "standup").mkdir(parents=True)
    (home / "skills" / "standup" / "SKILL.md").write_text("---\nname: standup\n---\nRun the stand-up.\n")
    (home / "logs").mkdir()
    (home / "logs" / "teamclaw.log").write_text("{}\n")


async def _migrate(home: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{home / 'teamclaw.db'}")
    await db.migrate()
    await db.aclose()


class Writer(threading.Thread):
    """Writes like a busy daemon: each transaction inserts an inbound message and its reply, in WAL mode."""

    def __init__(self, db: Path) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.stop = threading.Event()
        self.warm = threading.Event()
        self.pairs = 0

    def run(self) -> None:
        conn = sqlite3.connect(self.db, timeout=30)
        try:
            while not self.stop.is_set():
                with conn:
                    for direction, status in (("in", "answered"), ("out", "sent")):
                        conn.execute(
                            "INSERT INTO messages (direction, channel, chat_id, chat_kind, sender_id, sender_name, "
                            "text, addressed, status, attempts, extra, created_at) VALUES "
                            "(?, 'telegram', '-100', 'group', 'u', 'U', ?, 1, ?, 0, '{}', '2025-01-01 00:00:00')",
                            (direction, f"message {self.pairs}", status),
                        )
                self.pairs += 1
                if self.pairs == 200:
                    self.warm.set()
        finally:
            conn.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "old-machine"
    _make_home(home)
    monkeypatch.setenv("TEAMCLAW_HOME", str(home))
    monkeypatch.delenv("TEAMCLAW_CONFIG", raising=False)
    yield home


def _vectors(home: Path, count: int) -> None:
    import chromadb

    client = chromadb.PersistentClient(path=str(home / "vectors"))
    collection = client.get_or_create_collection("memory", embedding_function=None)
    collection.add(ids=[str(i) for i in range(count)], embeddings=[[float(i), 1.0, 0.5] for i in range(count)],
                   metadatas=[{"member_id": i % 2} for i in range(count)])


def test_backup_while_writing_then_restore_elsewhere(home: Path, tmp_path: Path) -> None:
    _vectors(home, 3)
    writer = Writer(home / "teamclaw.db")
    writer.start()
    try:
        assert writer.warm.wait(30), "the writer did not get going"
        archive = make_backup(load_config(), home / "teamclaw.toml", tmp_path / "snap.tar.gz")
        written_during = writer.pairs
    finally:
        writer.stop.set()
        writer.join(30)
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    new_home = tmp_path / "new-machine"
    restored = restore_backup(archive, new_home, echo=lambda _: None)
    assert restored.manifest["schema_revision"] is not None
    conn = sqlite3.connect(new_home / "teamclaw.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT direction, text FROM messages ORDER BY id").fetchall()
    finally:
        conn.close()
    # One consistent state: whole transactions only (each an inbound and its reply), taken during the writes.
    assert len(rows) % 2 == 0 and 200 * 2 <= len(rows) <= (written_during + 1) * 2
    assert rows[-2:] == [("in", f"message {len(rows) // 2 - 1}"), ("out", f"message {len(rows) // 2 - 1}")]

    for rel in ("teamclaw.toml", "workspace/SOUL.md", "skills/standup/SKILL.md"):
        assert (new_home / rel).read_bytes() == (home / rel).read_bytes()
    assert not (new_home / "logs").exists()  # logs stay with the old machine

    import chromadb

    client = chromadb.PersistentClient(path=str(new_home / "vectors"))
    assert client.get_collection("memory", embedding_function=None).count() == 3


def test_manifest_lists_every_file_with_its_checksum(home: Path, tmp_path: Path) -> None:
    archive = make_backup(load_config(), home / "teamclaw.toml", tmp_path / "snap.tar.gz")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["format"] == 1 and manifest["teamclaw_version"]
    assert manifest["database"] == "home/teamclaw.db" and manifest["config"] == "home/teamclaw.toml"
    assert set(manifest["files"]) == names - {"manifest.json"}
    assert "home/teamclaw.db-wal" not in names and not any(n.startswith("home/logs") for n in names)
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())


def test_restore_refuses_a_non_empty_home_unless_forced(home: Path, tmp_path: Path) -> None:
    archive = make_backup(load_config(), home / "teamclaw.toml", tmp_path / "snap.tar.gz")
    (home / "workspace" / "SOUL.md").write_text("changed after the backup")
    (home / "workspace" / "NEW.md").write_text("not in the backup")
    with pytest.raises(TeamclawError, match="not empty"):
        restore_backup(archive, home, echo=lambda _: None)
    restore_backup(archive, home, force=True, echo=lambda _: None)
    assert (home / "workspace" / "SOUL.md").read_text(encoding="utf-8").startswith("You are the otters'")
    assert not (home / "workspace" / "NEW.md").exists()
    assert (home / "logs" / "teamclaw.log").exists()  # kept by a forced restore


def test_a_damaged_archive_is_refused(home: Path, tmp_path: Path) -> None:
    archive = make_backup(load_config(), home / "teamclaw.toml", tmp_path / "snap.tar.gz")
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(tampered, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "home/workspace/SOUL.md":
                data = b"You are evil now.\n"
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(StorageError, match="checksum"):
        restore_backup(tampered, tmp_path / "elsewhere", echo=lambda _: None)
    assert not (tmp_path / "elsewhere" / "workspace").exists()


def test_cli_backup_then_restore_onto_another_home(home: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    backup_cli.register(app)
    runner = CliRunner()
    done = runner.invoke(app, ["backup", "--out", str(tmp_path / "b.tar.gz")])
    assert done.exit_code == 0, done.output
    assert "wrote" in done.output
    target = tmp_path / "mac-mini-2"
    done = runner.invoke(app, ["restore", str(tmp_path / "b.tar.gz"), "--home", str(target)])
    assert done.exit_code == 0, done.output
    assert "restored" in done.output and (target / "teamclaw.db").exists()
    done = runner.invoke(app, ["restore", str(tmp_path / "b.tar.gz"), "--home", str(target)])
    assert done.exit_code != 0 and "not empty" in str(done.exception)


def test_backup_with_the_config_outside_the_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "etc" / "teamclaw.toml"
    outside.parent.mkdir()
    (home / "teamclaw.toml").rename(outside)
    monkeypatch.setenv("TEAMCLAW_CONFIG", str(outside))
    archive = make_backup(load_config(), outside, tmp_path / "snap.tar.gz")
    notes: list[str] = []
    restore_backup(archive, tmp_path / "new", echo=notes.append)
    assert (tmp_path / "new" / "teamclaw.toml").read_text(encoding="utf-8") == CONFIG
    assert any("outside the old home" in n for n in notes)
