"""The local dashboard: health, queue, members, jobs, memory and usage, served by the daemon on localhost."""

from __future__ import annotations

from assistant.dashboard.app import build_dashboard
from assistant.dashboard.server import DashboardServer, serve_dashboard

__all__ = ["DashboardServer", "build_dashboard", "serve_dashboard"]
