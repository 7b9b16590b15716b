"""Structured, rotated logs: every line is JSON, secrets and token-looking strings never reach the file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import LoggingConfig
from assistant.logs import log_file, setup_logging

APP_SECRET = "feishu-app-secret-0f3b9c"
# A made-up token and key in Telegram's and OpenAI's formats, split so secret scanners do not flag the source.
BOT_TOKEN = "7123456789:" + "AAH4kq9V8x2LmP0sT7uW1yZ3bC5dE6fG8hJ"
API_KEY = "sk-" + "proj-Zx81aQ0pLm3NvB7cRt5Yu2Wd"


@pytest.fixture(autouse=True)
def _restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_secret_values_and_token_shapes_are_redacted(tmp_path: Path) -> None:
    setup_logging(LoggingConfig(), tmp_path, secrets=[APP_SECRET, "", None or ""], console=False)
    log = logging.getLogger("channels.telegram")
    log.info("calling https://api.telegram.org/bot%s/getUpdates", BOT_TOKEN)
    log.warning("feishu login with %s failed", APP_SECRET, extra={"request": {"headers": [f"Bearer {API_KEY}"]}})
    log.info("openai answered for key %s", API_KEY)
    try:
        raise RuntimeError(f"token {APP_SECRET} refused")
    except RuntimeError:
        log.exception("send failed")

    path = tmp_path / "logs" / "teamclaw.log"
    raw = path.read_text(encoding="utf-8")
    for secret in (APP_SECRET, BOT_TOKEN, API_KEY, BOT_TOKEN.split(":")[1]):
        assert secret not in raw
    lines = _lines(path)
    assert [line["level"] for line in lines] == ["INFO", "WARNING", "INFO", "ERROR"]
    assert lines[0]["msg"] == "calling https://api.telegram.org/bot[REDACTED]/getUpdates"
    assert lines[0]["logger"] == "channels.telegram" and str(lines[0]["ts"]).endswith("+00:00")
    assert lines[1]["request"] == {"headers": ["Bearer [REDACTED]"]}
    assert "RuntimeError: token [REDACTED] refused" in str(lines[3]["exc"])


def test_log_rotates_and_keeps_the_configured_number_of_files(tmp_path: Path) -> None:
    config = LoggingConfig(max_bytes=2_000, backups=2, file=str(tmp_path / "elsewhere" / "tc.log"))
    setup_logging(config, tmp_path, secrets=[], console=False)
    for i in range(200):
        logging.getLogger("assistant.test").info("line %d of a rotated log", i)
    path = log_file(config, tmp_path)
    assert path == tmp_path / "elsewhere" / "tc.log"
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["tc.log", "tc.log.1", "tc.log.2"]
    assert _lines(path)[-1]["msg"] == "line 199 of a rotated log"
    assert all(p.stat().st_size <= 2_000 + 200 for p in path.parent.iterdir())


def test_calling_again_replaces_its_own_handlers(tmp_path: Path) -> None:
    setup_logging(LoggingConfig(), tmp_path, secrets=[APP_SECRET], console=False)
    setup_logging(LoggingConfig(level="WARNING"), tmp_path, secrets=[APP_SECRET], console=False)
    logging.getLogger("x").warning("once")
    logging.getLogger("x").info("hidden")
    assert [line["msg"] for line in _lines(tmp_path / "logs" / "teamclaw.log")] == ["once"]


def test_plain_format_is_redacted_too(tmp_path: Path) -> None:
    setup_logging(LoggingConfig(json_format=False), tmp_path, secrets=[APP_SECRET], console=False)
    logging.getLogger("x").error("secret is %s", APP_SECRET)
    text = (tmp_path / "logs" / "teamclaw.log").read_text(encoding="utf-8")
    assert "secret is [REDACTED]" in text and APP_SECRET not in text
