"""Property tests of config loading: any TOML document, any environment override and any bytes in the file give a
``Config`` or a ``ConfigError`` naming what is wrong; never another exception (the CLI shows a ConfigError as one
line, anything else as a traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.config import Config, load_config
from assistant.errors import ConfigError

FUZZ = settings(max_examples=120, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SECTIONS = ["team", "storage", "models", "routing", "budgets", "channels", "access", "agent", "memory",
            "scheduler", "heartbeat", "tools", "dashboard", "logging", "home", "nonsense"]
KEYS = ["enabled", "timezone", "owners", "url", "provider", "base_url", "model", "location", "tier", "roles",
        "max_steps", "telegram", "feishu", "port", "token", "level", "chat", "embedder", "recall_k", "x"]

toml_scalars = (st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
                | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
                | st.dates() | st.datetimes() | st.times()
                | st.sampled_from(["", "UTC", "Mars/Base", "openai", "local", "cloud", "http://127.0.0.1:1",
                                   "telegram:1", "chat", "-1", "../../etc", "\x00"]))
toml_values = st.recursive(toml_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3),
                           max_leaves=12)
documents = st.dictionaries(st.sampled_from(SECTIONS), toml_values, max_size=5)


def _load(path: Path, environ: dict[str, str] | None = None) -> Config | None:
    try:
        return load_config(path, environ=environ or {})
    except ConfigError as exc:
        assert str(exc).strip(), "a ConfigError must say what is wrong"
        return None


@FUZZ
@given(documents)
def test_any_toml_document_gives_a_config_or_a_config_error(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "teamclaw.toml"
    try:
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
    except (TypeError, ValueError):
        return  # not representable in TOML (a datetime with an offset time, say): nothing to load
    _load(path)


@FUZZ
@given(st.dictionaries(st.lists(st.sampled_from(SECTIONS[:-2] + KEYS), min_size=1, max_size=3)
                       .map(lambda parts: "TEAMCLAW__" + "__".join(p.upper() for p in parts)),
                       st.text(max_size=20) | st.sampled_from(["[1, 2", "{a = 1}", "true", "1e999", '"x"']),
                       max_size=4))
def test_any_environment_override_gives_a_config_or_a_config_error(tmp_path: Path,
                                                                   environ: dict[str, str]) -> None:
    path = tmp_path / "teamclaw.toml"
    path.write_text('[team]\nname = "t"\n', encoding="utf-8")
    _load(path, {k: v.replace("\x00", "") for k, v in environ.items()})


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes_in_the_file_give_a_config_or_a_config_error(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "teamclaw.toml"
    path.write_bytes(raw)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # covered (and failing today) in the test below
    _load(path)


def test_deeply_nested_toml_gives_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "teamclaw.toml"
    path.write_text("[team]\nname = " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path, environ={})


def test_a_config_file_that_is_not_utf8_gives_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "teamclaw.toml"
    path.write_bytes(b'[team]\nname = "\xff\xfe caf\xe9"\n')
    with pytest.raises(ConfigError, match="UTF-8"):
        load_config(path, environ={})


def test_the_cli_shows_a_config_error_as_one_line_not_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    bad = home / "teamclaw.toml"
    bad.write_text('[models.x]\nprovider = "openai"\ntier = "high"\n[agent]\nmax_steps = -1\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "assistant.cli.main", "status", "--config", str(bad)],
                            capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "TEAMCLAW_HOME": str(home)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "models.x" in result.stderr and "agent.max_steps" in result.stderr


@pytest.mark.parametrize("value", ["1.5", "-0.1", '"often"'])
def test_a_second_opinion_band_outside_zero_to_one_names_the_key(tmp_path: Path, value: str) -> None:
    path = tmp_path / "teamclaw.toml"
    path.write_text(f"[routing]\nprivacy_second_opinion = true\nprivacy_second_opinion_from = {value}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"routing\.privacy_second_opinion_from"):
        load_config(path, environ={})
    path.write_text("[routing]\nprivacy_second_opinion_from = 0.2\n", encoding="utf-8")
    assert load_config(path, environ={}).routing.privacy_second_opinion_from == 0.2
