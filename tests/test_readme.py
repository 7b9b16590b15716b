"""The README tells the truth: the two commands first, and every configuration key."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from assistant.config import Config, ModelConfig

ROOT = Path(__file__).resolve().parents[1]


def _reference_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("config_reference", ROOT / "scripts" / "config_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_starts_with_the_two_commands() -> None:
    head = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:6]
    assert any("./scripts/start.sh" in line for line in head)
    assert any("./scripts/test.sh" in line for line in head)
    assert "./scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_config_key_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reference = _reference_module()
    keys = [k for k, *_ in reference.keys(Config)] + [k for k, *_ in reference.keys(ModelConfig, "models.NAME.")]
    missing = [k for k in keys if f"`{k}`" not in readme]
    assert not missing, f"document these keys in the README configuration table: {missing}"
    undescribed = [k for k in keys if k not in reference.DESCRIPTIONS]
    assert not undescribed, f"add a description to scripts/config_reference.py: {undescribed}"
