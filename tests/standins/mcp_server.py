"""A small MCP server for tool tests (MCP SDK's MCPServer): stdio when run as a script, or an ASGI app for
streamable HTTP via ``http_app()``."""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer

server: MCPServer[Any] = MCPServer("notes")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str, times: int = 1) -> str:
    """Upper-case a text, repeated."""
    return " ".join([text.upper()] * times)


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the given reason."""
    raise ValueError(reason)


def http_app() -> Any:
    return server.streamable_http_app()


if __name__ == "__main__":
    server.run()
