"""Logging for the daemon: JSON lines in a rotated file, every secret and token-looking string redacted."""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.config import LoggingConfig

__all__ = ["JsonFormatter", "RedactingFilter", "Redactor", "log_file", "setup_logging"]

REDACTED = "[REDACTED]"
# Secrets shorter than this are not redacted by value: masking every "abc" in every line would ruin the log
# while protecting nothing (such a value is guessable anyway).
MIN_SECRET_LEN = 6
TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"),  # OpenAI-style API keys (sk-..., sk-proj-...)
    # Telegram bot tokens, also inside /bot<token>/ URLs (where no word boundary precedes the digits)
    re.compile(r"(?<![0-9])\d{8,10}:[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])"),
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]{8,}"),  # Authorization headers
    re.compile(r"\b[tu]-[A-Za-z0-9_]{24,}\b"),  # Feishu tenant / user access tokens
)
# Attributes every LogRecord has; anything else on a record came from ``extra=`` and goes into the JSON line.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
_HANDLER_MARK = "_teamclaw_handler"


class Redactor:
    """Replaces configured secret values and token-looking strings by ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)
        self._values = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(REDACTED, text)
        for pattern in TOKEN_PATTERNS:
            text = pattern.sub(REDACTED, text)
        return text

    def value(self, value: Any) -> Any:
        """Redacts strings inside an ``extra`` value (strings, lists, dicts); other values pass through."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


class RedactingFilter(logging.Filter):
    """Rewrites each record before any handler formats it: message, arguments, traceback and extras."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redactor(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            # The formatter reuses exc_text when set: a secret inside an exception message is redacted here.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS:
                setattr(record, key, self.redactor.value(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, then any ``extra=`` fields, then exc."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_") and key not in line:
                line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def log_file(config: LoggingConfig, data_dir: Path) -> Path:
    """Where the daemon writes its log: ``logging.file`` or ``<home>/logs/teamclaw.log``."""
    return Path(config.file).expanduser() if config.file else data_dir / "logs" / "teamclaw.log"


def setup_logging(
    config: LoggingConfig, data_dir: Path, *, secrets: Iterable[str], console: bool = True
) -> None:
    """Send the root logger to a rotated file (JSON lines unless ``json_format = false``), and with
    ``console`` warnings and errors to stderr as well.

    ``secrets`` are the configured secret values (tokens, app secrets, API keys); each is replaced by
    ``[REDACTED]`` wherever it appears, as are strings that look like tokens. Calling it again replaces the
    handlers it installed before, so the daemon may call it once per start and tests once per case.
    """
    path = log_file(config, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    redacting = RedactingFilter(Redactor(secrets))
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()

    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=config.max_bytes, backupCount=config.backups, encoding="utf-8"
    )
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler.setFormatter(JsonFormatter() if config.json_format else plain)
    # Under launchd / systemd stderr lands in the service log: warnings there make a crash loop visible
    # without opening the JSON file.
    handlers: list[logging.Handler] = [file_handler]
    if console:
        stderr = logging.StreamHandler(sys.stderr)
        stderr.setLevel(logging.WARNING)
        stderr.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handlers.append(stderr)
    for handler in handlers:
        handler.addFilter(redacting)
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    root.setLevel(config.level)
    # httpx logs every request URL at INFO; Telegram URLs carry the bot token (redacted, but noisy).
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
