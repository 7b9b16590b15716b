"""Tools from MCP servers (``tools.mcp_servers``): each remote tool is registered as ``mcp_<server>_<tool>``.

A server entry is ``{command, args, env, cwd}`` (stdio: the server runs as a child process) or ``{url, headers}``
(streamable HTTP). Each connection is held open by its own task, because the MCP client's context must be entered
and left in one task; tool calls from turns go through that open session. Remote tools get the same per-member
permissions as any other tool (not group-safe unless listed in ``tools.group_safe_tools``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from assistant.errors import ConfigError, ToolError
from assistant.tools import Tool, ToolContext, ToolRegistry, ToolResult

if TYPE_CHECKING:
    from mcp import Client

__all__ = ["McpServers", "mcp_tool_name"]

log = logging.getLogger(__name__)

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


class _StdioEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None


class _HttpEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)


def mcp_tool_name(server: str, tool: str) -> str:
    return _NAME_CHARS.sub("_", f"mcp_{server}_{tool}")[:64]


def _args_model(name: str, schema: dict[str, Any]) -> type[BaseModel]:
    """A permissive argument model: required keys must be present, anything else passes through to the server
    (which validates types itself). Its JSON schema is the server's own, so the model sees the real contract."""
    remote = copy.deepcopy(schema) if schema else {"type": "object", "properties": {}}

    def _show_remote(out: dict[str, Any]) -> None:
        out.clear()
        out.update(copy.deepcopy(remote))

    required = [k for k in remote.get("required", []) if isinstance(k, str)]
    fields: dict[str, Any] = {f"f{i}": (Any, Field(..., alias=key)) for i, key in enumerate(required)}
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{name}_args", __config__=ConfigDict(extra="allow", json_schema_extra=_show_remote), **fields)


def _result_text(result: Any) -> tuple[str, bool]:
    parts: list[str] = []
    for block in result.content or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(block.text)
        elif kind == "resource" and hasattr(getattr(block, "resource", None), "text"):
            parts.append(block.resource.text)
        else:
            parts.append(f"[{kind or 'unknown'} content omitted]")
    if not parts and result.structured_content is not None:
        parts.append(str(result.structured_content))
    return "\n".join(parts) or "(no output)", bool(result.is_error)


class _Connection:
    def __init__(self, name: str, entry: _StdioEntry | _HttpEntry, errlog: TextIO | None) -> None:
        self.name = name
        self.entry = entry
        self.errlog = errlog
        self.client: Client | None = None
        self.remote_tools: list[Any] = []
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # A failure that arrives after start() stopped waiting is logged by hold(), not left "never retrieved".
        self.ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def _transport(self) -> Any:
        # Imported here: the MCP SDK takes half a second to import and most installs list no servers.
        from mcp import StdioServerParameters, stdio_client
        from mcp.client.streamable_http import streamable_http_client

        if isinstance(self.entry, _StdioEntry):
            params = StdioServerParameters(command=self.entry.command, args=self.entry.args,
                                           env=self.entry.env or None, cwd=self.entry.cwd)
            return stdio_client(params, errlog=self.errlog) if self.errlog else stdio_client(params)
        if self.entry.headers:
            import httpx2

            return streamable_http_client(self.entry.url, http_client=httpx2.AsyncClient(headers=self.entry.headers))
        return streamable_http_client(self.entry.url)

    async def hold(self, timeout_s: float) -> None:
        from mcp import Client

        try:
            async with Client(self._transport(), read_timeout_seconds=timeout_s) as client:
                tools: list[Any] = []
                cursor: str | None = None
                while True:
                    page = await client.list_tools(cursor=cursor)
                    tools.extend(page.tools)
                    cursor = page.next_cursor
                    if not cursor:
                        break
                self.client, self.remote_tools = client, tools
                self.ready.set_result(None)
                await self.stop.wait()
        except Exception as exc:  # a server that fails must not take the daemon down: record and carry on
            if not self.ready.done():
                self.ready.set_exception(exc)
            else:
                log.warning("MCP server %s disconnected: %s", self.name, exc)
        finally:
            self.client = None


class McpServers:
    """Owns the MCP connections. ``start(registry)`` connects and registers; ``aclose()`` unregisters and closes.
    A server that cannot be reached is reported in ``start``'s answer and skipped."""

    def __init__(self, servers: Mapping[str, Mapping[str, Any]], *, timeout_s: float = 30.0,
                 log_dir: Path | None = None) -> None:
        self._entries: dict[str, _StdioEntry | _HttpEntry] = {}
        for name, raw in servers.items():
            try:
                self._entries[name] = _HttpEntry.model_validate(raw) if "url" in raw else \
                    _StdioEntry.model_validate(raw)
            except ValidationError as exc:
                raise ConfigError(f"tools.mcp_servers.{name}: give either command (with args, env) for a stdio "
                                  f"server or url for a streamable HTTP server ({exc.errors()[0]['msg']})") from exc
        self._timeout_s = timeout_s
        self._log_dir = log_dir
        self._connections: dict[str, _Connection] = {}
        self._registered: list[str] = []
        self._registry: ToolRegistry | None = None
        self._logs: list[TextIO] = []

    @property
    def tool_names(self) -> list[str]:
        return list(self._registered)

    async def start(self, registry: ToolRegistry) -> dict[str, str]:
        self._registry = registry
        status: dict[str, str] = {}
        for name, entry in self._entries.items():
            errlog = None
            if self._log_dir is not None and isinstance(entry, _StdioEntry):
                self._log_dir.mkdir(parents=True, exist_ok=True)
                errlog = (self._log_dir / f"mcp-{name}.log").open("a", encoding="utf-8")
                self._logs.append(errlog)
            conn = _Connection(name, entry, errlog)
            conn.task = asyncio.create_task(conn.hold(self._timeout_s), name=f"mcp-{name}")
            self._connections[name] = conn
            try:
                async with asyncio.timeout(self._timeout_s):
                    await asyncio.shield(conn.ready)
            except Exception as exc:
                await self._close(conn)
                status[name] = f"failed: {type(exc).__name__}: {exc}"[:300]
                log.warning("MCP server %s not connected: %s", name, status[name])
                continue
            for remote in conn.remote_tools:
                registry.register(self._tool(conn, remote))
                self._registered.append(mcp_tool_name(name, remote.name))
            status[name] = f"ok: {len(conn.remote_tools)} tools"
        return status

    def _tool(self, conn: _Connection, remote: Any) -> Tool:
        local_name = mcp_tool_name(conn.name, remote.name)
        timeout_s = self._timeout_s

        async def call(args: BaseModel, ctx: ToolContext) -> ToolResult:
            client = conn.client
            if client is None:
                raise ToolError(f"the MCP server {conn.name!r} is not connected; an admin should check its logs")
            arguments = args.model_dump(by_alias=True)
            try:
                result = await client.call_tool(remote.name, arguments, read_timeout_seconds=timeout_s)
            except Exception as exc:
                raise ToolError(f"the MCP server {conn.name!r} failed on {remote.name}: {exc}") from exc
            text, is_error = _result_text(result)
            return ToolResult(f"[output of MCP server {conn.name}]\n{text}", error=is_error)

        description = (remote.description or remote.title or remote.name).strip()
        return Tool(local_name, f"{description} (MCP server {conn.name})"[:1024],
                    _args_model(local_name, dict(remote.input_schema or {})), call, timeout_s=timeout_s + 5.0)

    async def _close(self, conn: _Connection) -> None:
        conn.stop.set()
        if conn.task is None:
            return
        try:
            async with asyncio.timeout(self._timeout_s):
                await asyncio.wait({conn.task})
        except TimeoutError:
            conn.task.cancel()
            await asyncio.wait({conn.task})

    async def aclose(self) -> None:
        if self._registry is not None:
            for name in self._registered:
                self._registry.unregister(name)
        self._registered.clear()
        for conn in self._connections.values():
            await self._close(conn)
        self._connections.clear()
        for handle in self._logs:
            with contextlib.suppress(OSError):
                handle.close()
        self._logs.clear()
