"""``teamclaw onboard``: driven in a terminal as a person would, and with flags; checks run against stand-ins."""

from __future__ import annotations

import json
import os
import stat
import sys
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest
import typer
from typer.testing import CliRunner

from assistant.cli import onboard
from assistant.config import load_config
from tests.standins.feishu_server import FakeFeishu
from tests.standins.telegram_server import DEFAULT_TOKEN, FakeTelegram

REPO = Path(__file__).resolve().parents[1]
OLLAMA_MODELS = ["qwen2.5:7b", "llama3.2:3b"]


class _Ollama(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path != "/api/tags":
            self.send_error(404)
            return
        body = json.dumps({"models": [{"name": n, "size": 1} for n in OLLAMA_MODELS]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def ollama() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ollama)
    Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    fake = FakeTelegram()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def feishu() -> Iterator[FakeFeishu]:
    fake = FakeFeishu(app_secret="feishu-secret-9a8b7c", bot_name="Otter")
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("TEAMCLAW_HOME", str(home))
    for name in ("TEAMCLAW_CONFIG", "TELEGRAM_BOT_TOKEN", "FEISHU_APP_SECRET", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return home


def _closed_port_url() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ollama)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


def test_wizard_in_a_terminal(home: Path, ollama: str, telegram: FakeTelegram, feishu: FakeFeishu,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "TEAMCLAW_HOME": str(home), "COLUMNS": "200", "TERM": "dumb", "NO_COLOR": "1"}
    child = pexpect.spawn(
        str(Path(sys.executable).with_name("teamclaw")),
        ["onboard", "--ollama-url", ollama, "--lmstudio-url", _closed_port_url(),
         "--telegram-base-url", telegram.base_url, "--feishu-domain", feishu.url],
        env=env, encoding="utf-8", timeout=30, dimensions=(50, 200),
    )
    try:
        child.expect(r"Team name \[team\]: ")
        child.sendline("otters")
        child.expect(r"Team time zone \[.*\]: ")
        child.sendline("Mars/Olympus")
        child.expect("unknown time zone")
        child.expect(r"Team time zone \[.*\]: ")
        child.sendline("Asia/Shanghai")
        child.expect("found ollama")
        child.expect(r"2\. ollama: llama3\.2:3b")
        child.expect(r"Local model for private requests \(0 = none\) \[1\]: ")
        child.sendline("2")
        child.expect(r"Add a cloud model.*\? \[Y/n\]: ")
        child.sendline("n")
        child.expect(r"Connect a Telegram bot\? \[y/N\]: ")
        child.sendline("y")
        child.expect(r"Telegram bot token \(from @BotFather\): ")
        child.sendline(DEFAULT_TOKEN)
        child.expect("@teamclaw_bot")
        child.expect("setprivacy")  # privacy mode is on for the stand-in bot: explained
        child.expect(r"\(env\) or in the config file \(file\)\? \[env\]: ")
        child.sendline("env")
        child.expect(r"Environment variable name \[TELEGRAM_BOT_TOKEN\]: ")
        child.sendline("")
        child.expect(r"Connect a Feishu / Lark app\? \[y/N\]: ")
        child.sendline("y")
        child.expect(r"Feishu app id \(cli_\.\.\.\): ")
        child.sendline(feishu.app_id)
        child.expect("Feishu app secret: ")
        child.sendline("feishu-secret-9a8b7c")
        child.expect("'Otter'")
        child.expect("im:message.group_msg")
        child.expect("im.message.receive_v1")
        child.expect(r"\[env\]: ")
        child.sendline("file")
        child.expect(r"Your own account as channel:id \(the owner\) \[telegram:\]: ")
        child.sendline("telegram:4242")
        child.expect("wrote")
        child.expect("TELEGRAM_BOT_TOKEN")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before

    path = home / "teamclaw.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert DEFAULT_TOKEN not in text  # kept in the environment, as chosen
    data = tomllib.loads(text)
    assert data["team"] == {"name": "otters", "timezone": "Asia/Shanghai", "owners": ["telegram:4242"]}
    assert data["models"]["ollama"]["model"] == "llama3.2:3b"
    assert data["models"]["ollama"]["base_url"] == f"{ollama}/v1"
    assert data["channels"]["telegram"]["token_env"] == "TELEGRAM_BOT_TOKEN"
    assert data["channels"]["feishu"]["app_secret"] == "feishu-secret-9a8b7c"
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", DEFAULT_TOKEN)
    cfg = load_config(path)
    assert cfg.channels.telegram.bot_token() == DEFAULT_TOKEN and cfg.channels.feishu.secret()


def _app() -> typer.Typer:
    app = typer.Typer()
    onboard.register(app)
    app.command("noop", hidden=True)(lambda: None)  # keeps typer from collapsing a single command
    return app


def test_non_interactive_with_flags(home: Path, ollama: str, telegram: FakeTelegram,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_BOT_TOKEN", DEFAULT_TOKEN)
    done = CliRunner().invoke(_app(), [
        "onboard", "--non-interactive", "--team-name", "otters", "--timezone", "Europe/Berlin",
        "--owner", "telegram:4242", "--ollama-url", ollama, "--lmstudio-url", _closed_port_url(),
        "--local-model", "qwen2.5:7b", "--cloud-model", "gpt-4o-mini", "--telegram-token-env", "MY_BOT_TOKEN",
        "--telegram-base-url", telegram.base_url,
    ])
    assert done.exit_code == 0, done.output
    data = tomllib.loads((home / "teamclaw.toml").read_text(encoding="utf-8"))
    assert data["models"]["ollama"]["model"] == "qwen2.5:7b"
    assert data["models"]["cloud"] == {"provider": "openai", "base_url": "https://api.openai.com/v1",
                                       "model": "gpt-4o-mini", "location": "cloud", "tier": 2,
                                       "api_key_env": "OPENAI_API_KEY"}
    assert data["channels"]["telegram"]["token_env"] == "MY_BOT_TOKEN"
    assert data["channels"]["telegram"]["base_url"] == telegram.base_url
    assert "--env OPENAI_API_KEY" in done.output

    again = CliRunner().invoke(_app(), ["onboard", "--non-interactive", "--owner", "console:me"])
    assert again.exit_code != 0 and "exists" in str(again.exception)


def test_a_wrong_telegram_token_writes_nothing(home: Path, telegram: FakeTelegram) -> None:
    done = CliRunner().invoke(_app(), [
        "onboard", "--non-interactive", "--owner", "telegram:1", "--lmstudio-url", _closed_port_url(),
        "--ollama-url", _closed_port_url(), "--telegram-token", "999:not-the-token",
        "--telegram-base-url", telegram.base_url,
    ])
    assert done.exit_code != 0
    assert "Telegram refused the token" in str(done.exception)
    assert not (home / "teamclaw.toml").exists()


def test_feishu_check_names_a_wrong_secret(feishu: FakeFeishu) -> None:
    bad = onboard.check_feishu(feishu.app_id, "wrong", feishu.url)
    assert not bad.ok and "10014" in bad.detail
    good = onboard.check_feishu(feishu.app_id, "feishu-secret-9a8b7c", feishu.url)
    assert good.ok and good.name == "Otter" and good.detail == "ou_bot"


def test_detect_finds_ollama_and_tolerates_silence(ollama: str) -> None:
    found = onboard.detect_local(ollama, _closed_port_url())
    assert [(s.name, s.models) for s in found] == [("ollama", tuple(OLLAMA_MODELS))]
    assert onboard.detect_local(_closed_port_url(), _closed_port_url()) == []
