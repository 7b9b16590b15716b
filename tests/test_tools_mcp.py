"""MCP tools through real MCP servers started by the test: stdio (a child process) and streamable HTTP."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn

from assistant.builtin_tools import McpServers
from assistant.config import Config
from assistant.errors import ConfigError
from tests.standins import mcp_server
from tests.standins.tool_world import member, open_world

SERVER_SCRIPT = Path(mcp_server.__file__)


@pytest.fixture
def http_mcp() -> Iterator[str]:
    """The same MCP server over streamable HTTP on 127.0.0.1; the socket listens before the thread starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(mcp_server.http_app(), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


async def test_stdio_server_tools_are_registered_and_called(make_config: Callable[..., Config]) -> None:
    async with open_world(make_config()) as world:
        servers = McpServers({"notes": {"command": sys.executable, "args": [str(SERVER_SCRIPT)]}},
                             timeout_s=20, log_dir=world.config.data_dir / "logs")
        try:
            status = await servers.start(world.registry)
            assert status == {"notes": "ok: 3 tools"}
            assert sorted(servers.tool_names) == ["mcp_notes_add", "mcp_notes_fail", "mcp_notes_shout"]
            spec = world.registry.get("mcp_notes_shout").spec()  # type: ignore[union-attr]
            assert spec.parameters["required"] == ["text"] and "times" in spec.parameters["properties"]

            admin = member(admin=True)
            added = await world.call(admin, "mcp_notes_add", '{"a": 2, "b": 40}')
            assert not added.error and added.content.endswith("42")
            shouted = await world.call(admin, "mcp_notes_shout", '{"text": "hi", "times": 2}')
            assert shouted.content.endswith("HI HI")
            missing = await world.call(admin, "mcp_notes_add", '{"a": 2}')
            assert missing.error and "malformed arguments" in missing.content
            failed = await world.call(admin, "mcp_notes_fail", '{"reason": "disk full"}')
            assert failed.error and "Error executing tool fail" in failed.content

            # Same permissions as any tool: a plain group member does not get MCP tools.
            from assistant.messages import ChatKind

            plain = member(2, name="bob", kind=ChatKind.GROUP)
            denied = await world.call(plain, "mcp_notes_add", '{"a": 1, "b": 1}')
            assert denied.error and "not permitted" in denied.content
        finally:
            await servers.aclose()
        assert world.registry.get("mcp_notes_add") is None


async def test_streamable_http_server(http_mcp: str, make_config: Callable[..., Config]) -> None:
    async with open_world(make_config()) as world:
        servers = McpServers({"remote": {"url": http_mcp}}, timeout_s=20)
        try:
            assert await servers.start(world.registry) == {"remote": "ok: 3 tools"}
            result = await world.call(member(admin=True), "mcp_remote_add", json.dumps({"a": 5, "b": 6}))
            assert not result.error and result.content.endswith("11")
        finally:
            await servers.aclose()


async def test_a_server_that_cannot_start_is_reported_not_fatal(make_config: Callable[..., Config],
                                                                tmp_path: Path) -> None:
    async with open_world(make_config()) as world:
        servers = McpServers({"broken": {"command": sys.executable, "args": [str(tmp_path / "missing.py")]},
                              "good": {"command": sys.executable, "args": [str(SERVER_SCRIPT)]}}, timeout_s=20)
        try:
            status = await servers.start(world.registry)
            assert status["broken"].startswith("failed") and status["good"] == "ok: 3 tools"
        finally:
            await servers.aclose()


def test_a_wrong_server_entry_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"tools\.mcp_servers\.x"):
        McpServers({"x": {"command": "a", "bogus": 1}})
