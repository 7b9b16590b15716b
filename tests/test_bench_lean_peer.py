"""`teamclaw bench lean --peer NAME=EXECUTABLE`: what it accepts and what it refuses before measuring anything."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from tests.bench.bench_lean import PEERS, parse_peer


def test_a_known_peer_and_an_executable_are_accepted() -> None:
    assert "nanobot" in PEERS
    assert parse_peer(f"nanobot={sys.executable}") == ("nanobot", sys.executable)


@pytest.mark.parametrize("value", ["nanobot", "nanobot=", "hermes=/bin/sh", "=/bin/sh"])
def test_a_malformed_or_unknown_peer_is_refused(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_peer(value)


def test_a_path_that_does_not_run_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "nanobot"
    plain.write_text("not a program", encoding="utf-8")
    with pytest.raises(argparse.ArgumentTypeError, match="not an executable"):
        parse_peer(f"nanobot={plain}")
