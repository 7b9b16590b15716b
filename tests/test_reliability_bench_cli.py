"""`teamclaw bench`: picks the profile's script in a source checkout, passes options on, and says what to do when
there is no checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.cli.bench_cmd import PROFILES, bench_script
from assistant.errors import ConfigError


def _cli(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant.cli.main", *args], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "TEAMCLAW_HOME": str(home)}, check=False)


def test_every_profile_names_a_script_of_this_checkout() -> None:
    for profile in PROFILES:
        if profile == "channels" and not (Path(__file__).parent / "bench" / "bench_channels.py").exists():
            continue  # written alongside; the error for a missing script is checked below
        root, module, _ = bench_script(profile)
        assert (root / (module.replace(".", "/") + ".py")).is_file()


def test_outside_a_checkout_it_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"source checkout.*pip install -e"):
        bench_script("burst", checkout=tmp_path)
    (tmp_path / "tests" / "bench").mkdir(parents=True)
    with pytest.raises(ConfigError, match="git pull"):
        bench_script("burst", checkout=tmp_path)


def test_unknown_profile_is_refused_with_the_list(tmp_path: Path) -> None:
    result = _cli(["bench", "fastest"], tmp_path)
    assert result.returncode == 2
    assert "unknown benchmark profile 'fastest'" in result.stderr and "burst" in result.stderr


def test_a_short_burst_runs_the_daemon_and_prints_its_figures(tmp_path: Path) -> None:
    result = _cli(["bench", "burst", "--rate", "20", "--duration", "1", "--members", "5", "--chats", "2",
                   "--sample-every", "0.2", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["profile"] == "burst" and figures["messages"] == 20
    assert figures["lost"] == 0 and figures["duplicated"] == 0 and figures["drained"] is True
    assert figures["clean_stop_exit_code"] == 0
    assert figures["rss_peak_mb"] > 0 and figures["fds_max"] > 0
    assert figures["targets"].startswith("0 lost: met (0 lost); 0 duplicated: met (0 duplicated); p99 overhead < 50 ms")


def test_targets_are_said_met_or_missed_with_their_figures() -> None:
    from tests.bench.bench_load import PROFILES as LOAD
    from tests.bench.bench_load import _targets

    burst = _targets(LOAD["burst"], lost=0, duplicated=0, drained=True, overhead_p99_ms=72.4, rss_growth_pct=1.0)
    assert burst == ("0 lost: met (0 lost); 0 duplicated: met (0 duplicated); "
                     "p99 overhead < 50 ms: MISSED (p99 72 ms)")
    soak = _targets(LOAD["soak"], lost=2, duplicated=0, drained=True, overhead_p99_ms=900.0, rss_growth_pct=3.2)
    assert soak == ("0 lost: MISSED (2 lost); 0 duplicated: met (0 duplicated); "
                    "RSS growth after warm-up < 10 %: met (3.2 %)")
