"""Serving the dashboard in the daemon's event loop."""

from __future__ import annotations

from starlette.types import ASGIApp

from assistant.httpserver import LoopServer

__all__ = ["DashboardServer", "serve_dashboard"]

DashboardServer = LoopServer


async def serve_dashboard(app: ASGIApp, host: str, port: int) -> LoopServer:
    """Start serving ``app`` on host:port in the running loop; the caller owns the result and aclose()s it."""
    server = LoopServer(app, host, port, name="dashboard", port_key="dashboard.port")
    await server.start()
    return server
