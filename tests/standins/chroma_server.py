"""A throwaway Chroma server for tests and benchmarks: ``chroma run`` from the installed chromadb package on a free
loopback port with a temporary data folder, stopped and removed afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

__all__ = ["ChromaServer", "chroma_bin", "running_chroma"]

START_TIMEOUT_S = 60.0


def chroma_bin() -> Path | None:
    """The ``chroma`` command beside this Python (the chromadb package installs it), or on PATH."""
    here = Path(sys.executable).parent / "chroma"
    if here.exists():
        return here
    found = shutil.which("chroma")
    return Path(found) if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChromaServer:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = chroma_bin()
        if command is None:
            raise RuntimeError("the chroma command is missing: pip install chromadb (scripts/test.sh does)")
        log = (self.root / "chroma.log").open("wb")
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        self._process = subprocess.Popen(
            [str(command), "run", "--path", str(self.root / "data"), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self._process.returncode}: "
                                   f"{(self.root / 'chroma.log').read_text(errors='replace')[-2000:]}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # a process starting up sends no signal of readiness: ask its heartbeat
        self.stop()
        raise RuntimeError(f"chroma run did not answer within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def running_chroma() -> Iterator[ChromaServer]:
    root = Path(tempfile.mkdtemp(prefix="teamclaw-chroma-"))
    server = ChromaServer(root, _free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
