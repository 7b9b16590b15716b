"""The dashboard page in headless Chromium: it loads, shows the seeded data, draws the chart, enforces the token."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from assistant.dashboard import DashboardServer, build_dashboard, serve_dashboard
from tests.standins.dashboard_world import seeded_services

TOKEN = "browser-token-81d0a3"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
BROWSER_TIMEOUT_S = 60

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")


def _status() -> dict[str, Any]:
    return {"channels": {"telegram": {"connected": True, "last_event_at": None}}, "queue_depth": 0}


async def _dump_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran; virtual time lets the fetches and drawing finish first."""
    assert CHROMIUM is not None
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
        "--virtual-time-budget=10000", "--dump-dom", url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(BROWSER_TIMEOUT_S):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


@pytest.fixture
async def dashboard(tmp_path: Path) -> AsyncIterator[DashboardServer]:
    services = await seeded_services(tmp_path / "home", token=TOKEN)
    server = await serve_dashboard(build_dashboard(services, status=_status), "127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.aclose()
        await services.db.aclose()


async def test_page_shows_seeded_data_and_draws_the_chart(dashboard: DashboardServer, tmp_path: Path) -> None:
    dom = await _dump_dom(f"{dashboard.url}/?token={TOKEN}", tmp_path / "profile")
    assert 'data-ready="1"' in dom, dom[-3000:]
    assert "Alice Zhang" in dom and "Bob Li" in dom and "telegram:111" in dom
    assert "every weekday at 09:00" in dom  # the scheduled job
    assert "connected" in dom  # channel health
    bars = re.search(r'data-chart-bars="(\d+)"', dom)
    assert bars and int(bars.group(1)) == 2  # two days with spending (the local model costs nothing)
    assert "<svg" in dom and "<rect" in dom
    assert "total cost 0.5000" in dom
    assert "Alice prefers tea over coffee" in dom  # the first member's memories
    assert "4711" not in dom  # Bob's memory is not on Alice's view


async def test_page_without_token_is_refused(dashboard: DashboardServer, tmp_path: Path) -> None:
    dom = await _dump_dom(f"{dashboard.url}/", tmp_path / "profile")
    assert "token required" in dom
    assert "Alice Zhang" not in dom
