"""A throwaway PostgreSQL server for tests: initdb into a temp folder, start on a free loopback port, one fresh
database per test. Uses the server binaries of the machine (Debian's postgresql package)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PostgresServer", "postgres_bin", "running_postgres"]


def postgres_bin() -> Path | None:
    """The folder with initdb and pg_ctl, or None when PostgreSQL is not installed."""
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / "initdb").exists() and (root / "pg_ctl").exists():
            return root
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self, bin_dir: Path, root: Path, port: int) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.port = port

    def _run(self, *args: str) -> None:
        # PostgreSQL refuses to run as root: run its programs as the postgres user then.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, user="postgres")
        data = str(self.root / "data")
        self._run(str(self.bin_dir / "initdb"), "-D", data, "--auth=trust", "-U", "postgres", "-E", "UTF8")
        self._run(str(self.bin_dir / "pg_ctl"), "-D", data, "-w", "-l", str(self.root / "log"), "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def new_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy async URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", name], check=True, capture_output=True, timeout=30)
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="teamclaw-pg-"))
    os.chmod(root, 0o755)
    server = PostgresServer(bin_dir, root, _free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
