"""Secrets stay secret: the Telegram bot token, the Feishu app secret, encrypt key and verification token, the cloud
API key and the dashboard token never appear in the log file, the dashboard API, the database, ``teamclaw memory
export``, the ``teamclaw backup`` manifest or any model request, except the API key in the Authorization header of
the provider that owns it. The daemon runs at DEBUG with its real logging set-up, through successes and failures.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from assistant.config import Config, load_config
from assistant.daemon import App
from assistant.logs import log_file, setup_logging
from tests.conftest import cloud_model, local_model, write_config
from tests.standins.feishu_server import ENCRYPT_KEY, VERIFICATION_TOKEN, FakeFeishu, FeishuPusher
from tests.standins.model_server import ScriptedModelServer
from tests.standins.telegram_server import FakeTelegram

GROUP, ALICE = -1008880001, 4242
API_KEY = "sk-test-not-a-real-key"  # what conftest.cloud_model configures
APP_SECRET = "feishu-app-secret-7c1d9e5b"
DASHBOARD_TOKEN = "dashboard-token-91f3a0c2e4"
WAIT = 20.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _secrets(telegram: FakeTelegram) -> dict[str, str]:
    return {"telegram token": telegram.token, "telegram token secret part": telegram.token.split(":", 1)[1],
            "feishu app secret": APP_SECRET, "feishu encrypt key": ENCRYPT_KEY,
            "feishu verification token": VERIFICATION_TOKEN, "cloud api key": API_KEY,
            "dashboard token": DASHBOARD_TOKEN}


def _found(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, value in secrets.items() if value in text]


def _config(home: Path, local: ScriptedModelServer, cloud: ScriptedModelServer, telegram: FakeTelegram,
            feishu: FakeFeishu) -> Config:
    return load_config(write_config(home, {
        "team": {"owners": [f"telegram:{ALICE}"]},
        "access": {"allowed_chats": [f"telegram:{GROUP}", "feishu:oc_team"]},
        "models": {"local": local_model(local), "cloud": cloud_model(cloud)},
        "routing": {"roles": {"chat": "cloud"}},
        "memory": {"enabled": True, "embedder": "none"},
        "dashboard": {"enabled": True, "port": _free_port(), "token": DASHBOARD_TOKEN},
        "logging": {"level": "DEBUG"},
        "channels": {
            "telegram": {"enabled": True, "token": telegram.token, "base_url": telegram.base_url,
                         "base_file_url": telegram.base_file_url, "poll_timeout_s": 1},
            "feishu": {"enabled": True, "app_id": feishu.app_id, "app_secret": APP_SECRET, "domain": feishu.url,
                       "mode": "webhook", "encrypt_key": ENCRYPT_KEY, "verification_token": VERIFICATION_TOKEN,
                       "webhook_port": _free_port()},
        },
    }))


def _cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "assistant.cli.main", *args, "--config",
                             str(home / "teamclaw.toml")], capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "TEAMCLAW_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    return result


async def test_secrets_never_leave_through_logs_dashboard_exports_or_model_requests(
        tmp_path: Path, restore_logging: None) -> None:
    home = tmp_path / "home"
    with ScriptedModelServer() as local, ScriptedModelServer() as cloud, FakeTelegram() as telegram, \
            FakeFeishu(app_secret=APP_SECRET) as feishu:
        secrets = _secrets(telegram)
        config = _config(home, local, cloud, telegram, feishu)
        setup_logging(config.logging, config.data_dir, secrets=list(secrets.values()), console=False)
        feishu.add_user("ou_alice", "Alice")
        async with App(config, status_file=False) as app:
            # A normal turn on each platform, a remembered fact, a failed send and a refused model call.
            cloud.enqueue_text("noted")
            text, entities = telegram.mention_bot("remember that the retro is on Friday")
            telegram.push_message(GROUP, "supergroup", ALICE, "Alice", text, entities=entities)
            await telegram.wait_for_sent(1, WAIT)
            cloud.enqueue_fault(401, body={"error": {"message": "invalid api key provided"}})
            local.enqueue_text("answered locally")
            telegram.fail_next("sendMessage", error_code=400, description="Bad Request: chat not found")
            text, entities = telegram.mention_bot("what is on Friday?")
            telegram.push_message(GROUP, "supergroup", ALICE, "Alice", text, entities=entities)
            pusher = FeishuPusher(app.channels["feishu"].webhook_url,  # type: ignore[attr-defined]
                                  ENCRYPT_KEY, VERIFICATION_TOKEN, platform=feishu)
            cloud.enqueue_text("hello from feishu")
            body = pusher.message_event(chat_id="oc_team", sender="ou_alice", text="@_user_1 hi",
                                        mentions=[("ou_bot", "teamclaw")])
            assert (await pusher.push(body)).status_code == 200
            await feishu.wait_for_sent(1, WAIT)
            # Everything the dashboard serves, as an operator with the token sees it.
            dashboard = f"http://127.0.0.1:{config.dashboard.port}"
            served = []
            async with httpx.AsyncClient(base_url=dashboard, timeout=10,
                                         headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"}) as client:
                for path in ("/", "/api/health", "/api/usage", "/api/jobs", "/api/members", "/api/memory?member=1",
                             "/static/dashboard.js"):
                    response = await client.get(path)
                    assert response.status_code == 200, path
                    served.append(f"{path}\n{response.headers}\n{response.text}")
            status_reply_text = "\n".join(m.text for m in telegram.sent)
        requests = [(name, r) for name, server in (("local", local), ("cloud", cloud)) for r in server.requests]

    assert requests and any(name == "cloud" for name, _ in requests)
    for name, request in requests:
        headers = dict(request.headers)
        authorization = headers.pop("authorization", "")
        assert _found(json.dumps(request.body) + json.dumps(headers), secrets) == [], (name, request.path)
        if name == "cloud":
            assert authorization == f"Bearer {API_KEY}"  # the key goes to its own provider, in the header only
        else:
            assert API_KEY not in authorization

    logged = "\n".join(p.read_text(encoding="utf-8") for p in log_file(config.logging, config.data_dir)
                       .parent.glob("*.log*"))
    assert "dead-lettered" in logged and "route chat" in logged  # the failures and turns were logged at all
    assert "[REDACTED]" in logged  # secrets did reach the log calls (request URLs): the filter took them out
    assert _found(logged, secrets) == []
    assert _found("\n".join(served), secrets) == []
    assert _found(status_reply_text, secrets) == []
    assert _found((home / "teamclaw.db").read_bytes().decode("utf-8", "replace"), secrets) == []

    export_dir = tmp_path / "export"
    _cli(home, "memory", "export", str(export_dir))
    exported = "\n".join(p.read_text(encoding="utf-8") for p in export_dir.rglob("*") if p.is_file())
    assert "retro" in exported.lower() and _found(exported, secrets) == []

    archive = tmp_path / "backup.tar.gz"
    _cli(home, "backup", "--out", str(archive))
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        manifest = member.read().decode("utf-8")
    assert "files" in json.loads(manifest) and _found(manifest, secrets) == []
