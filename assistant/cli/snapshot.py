"""Backup archives of a teamclaw home: a consistent snapshot taken while the daemon runs, and its restore.

An archive is one ``.tar.gz``: ``manifest.json`` (format, teamclaw version, schema revision, SHA-256 of every
file) and ``home/`` (the data folder). SQLite files (the database, chroma's own ``chroma.sqlite3``) are copied
with SQLite's online backup API, which reads one consistent state while the daemon keeps writing; a plain file
copy of a database in WAL mode can miss committed pages or catch a half-written one. Chroma's index files are
copied as they are; if the restored index does not open or misses vectors, ``teamclaw memory rebuild``
re-embeds every memory from the database, which is the source of truth.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant import __version__
from assistant.config import Config
from assistant.errors import ConfigError, StorageError, TeamclawError

__all__ = ["FORMAT", "Restored", "default_archive_path", "home_is_empty", "make_backup", "restore_backup"]

FORMAT = 1
MANIFEST = "manifest.json"
# Not part of a backup: earlier backups, logs, the daemon's run state (pid, status).
SKIPPED_DIRS = frozenset({"backups", "logs", "run"})
# Kept in place by a forced restore, for the same reason.
KEPT_ON_RESTORE = frozenset({"backups", "logs"})
SQLITE_MAGIC = b"SQLite format 3\x00"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
SQLITE_TIMEOUT_S = 30.0
CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _is_side_file(path: Path) -> bool:
    return any(path.name.endswith(s) and _is_sqlite(path.with_name(path.name[: -len(s)])) for s in SQLITE_SIDE_FILES)


def _sqlite_copy(src: Path, dst: Path) -> None:
    """One consistent copy of a live SQLite database (readers and the WAL writer go on meanwhile)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(src, timeout=SQLITE_TIMEOUT_S)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)  # all pages in one step: one read transaction, one state
        finally:
            target.close()
    except sqlite3.Error as exc:
        raise StorageError(f"could not snapshot {src}: {exc}") from exc
    finally:
        source.close()


def _schema_revision(db: Path) -> str | None:
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    except (sqlite3.Error, TypeError):
        return None
    finally:
        conn.close()


def _sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL; None for other databases."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if not path or path == ":memory:":
        return None
    return Path(path).expanduser()


def default_archive_path(config: Config, now: datetime) -> Path:
    return config.data_dir / "backups" / f"teamclaw-{now.astimezone(UTC):%Y%m%d-%H%M%S}.tar.gz"


def _stage_tree(home: Path, stage: Path, skip: set[Path]) -> None:
    work = stage.parent  # when --out points inside the home, the staging folder is inside it too
    for src in sorted(home.rglob("*")):
        rel = src.relative_to(home)
        if rel.parts[0] in SKIPPED_DIRS or src in skip or src.is_symlink() or not src.is_file():
            continue
        if src.is_relative_to(work) or src.name.endswith(".partial"):
            continue
        if _is_side_file(src):
            continue  # the snapshot of the database already holds what its WAL held
        dst = stage / rel
        if _is_sqlite(src):
            _sqlite_copy(src, dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)


def make_backup(config: Config, config_file: Path, out: Path | None = None, *, skip_database: bool = False,
                now: datetime | None = None) -> Path:
    """Write a backup archive of the whole home (file mode 0600: the config may hold secrets) and return it."""
    now = now or datetime.now(UTC)
    home = config.data_dir.resolve()
    if not home.is_dir():
        raise ConfigError(f"{home} does not exist: nothing to back up (is TEAMCLAW_HOME right?)")
    db = _sqlite_path(config.database_url)
    if db is None and not skip_database:
        raise ConfigError("storage.url is not an SQLite file: back that database up with its own tool (e.g. "
                          "pg_dump) and run `teamclaw backup --skip-database` for the rest")
    out = (out or default_archive_path(config, now)).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".teamclaw-backup-", dir=out.parent) as tmp:
        stage = Path(tmp)
        skip = {out}
        manifest: dict[str, Any] = {
            "format": FORMAT, "teamclaw_version": __version__, "created_at": now.isoformat(),
            "source_home": str(home), "schema_revision": None, "database": None, "config": None,
            "vectors": "server" if config.storage.chroma_url else None, "files": {},
        }
        if db is not None and not skip_database:
            db = db.resolve()
            inside = db.is_relative_to(home)
            rel = Path("home") / db.relative_to(home) if inside else Path("database") / db.name
            skip |= {db, *(db.with_name(db.name + s) for s in SQLITE_SIDE_FILES)}
            if db.exists():  # a home that never ran has no database yet: the rest is still worth keeping
                _sqlite_copy(db, stage / rel)
                manifest["database"] = rel.as_posix()
                manifest["schema_revision"] = _schema_revision(stage / rel)
        if config_file.exists() and not config_file.resolve().is_relative_to(home):
            (stage / "config").mkdir()
            shutil.copy2(config_file, stage / "config" / "teamclaw.toml")
            manifest["config"] = "config/teamclaw.toml"
        elif config_file.exists():
            manifest["config"] = (Path("home") / config_file.resolve().relative_to(home)).as_posix()
        _stage_tree(home, stage / "home", skip)
        if manifest["vectors"] is None and (stage / "home" / "vectors").is_dir():
            manifest["vectors"] = "home/vectors"
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            rel_name = path.relative_to(stage).as_posix()
            manifest["files"][rel_name] = {"sha256": _sha256(path), "size": path.stat().st_size}
        (stage / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        partial = out.with_name(out.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            tar.add(stage / MANIFEST, arcname=MANIFEST)
            for name in manifest["files"]:
                tar.add(stage / name, arcname=name)
        partial.replace(out)
    return out


@dataclass
class Restored:
    home: Path
    manifest: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def home_is_empty(home: Path) -> bool:
    return not home.exists() or not any(p.name not in KEPT_ON_RESTORE for p in home.iterdir())


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    try:
        member = tar.extractfile(MANIFEST)
        manifest: dict[str, Any] = json.loads(member.read()) if member else {}
    except (KeyError, ValueError) as exc:
        raise StorageError(f"{archive} is not a teamclaw backup (no readable {MANIFEST})") from exc
    if manifest.get("format") != FORMAT:
        raise StorageError(f"{archive} has backup format {manifest.get('format')!r}; this teamclaw reads "
                           f"format {FORMAT}: restore it with the teamclaw version that wrote it")
    return manifest


def _verify(stage: Path, manifest: dict[str, Any], archive: Path) -> None:
    found = {p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file()} - {MANIFEST}
    expected = set(manifest["files"])
    if found != expected:
        raise StorageError(f"{archive} does not match its manifest (missing: {sorted(expected - found)[:5]}, "
                           f"unexpected: {sorted(found - expected)[:5]}); it is damaged")
    for name, entry in manifest["files"].items():
        if _sha256(stage / name) != entry["sha256"]:
            raise StorageError(f"{archive}: {name} fails its checksum; the archive is damaged")


def _clear(home: Path) -> None:
    for entry in home.iterdir():
        if entry.name in KEPT_ON_RESTORE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def restore_backup(archive: Path, home: Path, *, force: bool = False,
                   echo: Callable[[str], None] = print) -> Restored:
    """Unpack ``archive`` into ``home`` after checking every file against the manifest.

    A non-empty home is refused unless ``force``; then everything in it except ``backups/`` and ``logs/`` is
    replaced. A database or config that lived outside the old home is placed inside the new one.
    """
    archive = archive.expanduser().resolve()
    home = home.expanduser().resolve()
    if not archive.is_file():
        raise TeamclawError(f"{archive}: no such backup file")
    if not force and not home_is_empty(home):
        raise TeamclawError(f"{home} is not empty: restore into an empty folder, or pass --force to replace "
                            "its contents (backups/ and logs/ are kept)")
    home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".teamclaw-restore-", dir=home.parent) as tmp:
        stage = Path(tmp)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                manifest = _read_manifest(tar, archive)
                tar.extractall(stage, filter="data")  # refuses absolute paths, "..", links out, devices
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise StorageError(f"{archive} cannot be read ({exc}); it is damaged or not a backup") from exc
        _verify(stage, manifest, archive)
        restored = Restored(home, manifest)
        if force:
            _clear(home)
        for entry in (stage / "home").iterdir() if (stage / "home").is_dir() else ():
            shutil.move(str(entry), str(home / entry.name))
        if manifest.get("config") == "config/teamclaw.toml":
            shutil.move(str(stage / "config" / "teamclaw.toml"), str(home / "teamclaw.toml"))
            restored.notes.append(f"the config lived outside the old home; it is now {home / 'teamclaw.toml'}")
        database = manifest.get("database")
        if database and database.startswith("database/"):
            name = Path(database).name
            shutil.move(str(stage / database), str(home / name))
            restored.notes.append(f"the database lived outside the old home; it is now {home / name}: "
                                  "point storage.url at it")
    config_text = (home / "teamclaw.toml").read_text(encoding="utf-8") if (home / "teamclaw.toml").exists() else ""
    if any(line.strip().startswith("home") and "=" in line for line in config_text.splitlines()):
        restored.notes.append("teamclaw.toml sets `home`: check that it names this folder, or remove the line")
    if manifest.get("vectors") == "server":
        restored.notes.append("memory vectors live on the Chroma server (storage.chroma_url); they were not in "
                              "the backup: run `teamclaw memory rebuild` if that server is new")
    for note in restored.notes:
        echo(note)
    return restored
