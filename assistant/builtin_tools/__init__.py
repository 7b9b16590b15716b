"""The built-in tools (web, files, shell, chat, sub-agents, skills), MCP tools and the permission rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from assistant.builtin_tools.chat import chat_tools
from assistant.builtin_tools.files import file_tools
from assistant.builtin_tools.mcp_tools import McpServers, mcp_tool_name
from assistant.builtin_tools.permissions import DIRECT_CHAT_EXTRA_TOOLS, allowed_tools, shell_permitted
from assistant.builtin_tools.shell import register_shell_commands, run_command, shell_tool
from assistant.builtin_tools.subagents import SPAWN_TOOL, subagents_tool
from assistant.builtin_tools.web import UNTRUSTED_END, UNTRUSTED_START, web_tools
from assistant.builtin_tools.workspace import member_workspace, resolve_in_workspace
from assistant.commands import CommandRegistry
from assistant.config import Config
from assistant.skillbook import skill_tools
from assistant.tools import ToolRegistry

__all__ = [
    "DIRECT_CHAT_EXTRA_TOOLS",
    "SPAWN_TOOL",
    "UNTRUSTED_END",
    "UNTRUSTED_START",
    "McpServers",
    "allowed_tools",
    "mcp_tool_name",
    "member_workspace",
    "register_builtin_tools",
    "register_commands",
    "resolve_in_workspace",
    "run_command",
    "shell_permitted",
]


def register_builtin_tools(registry: ToolRegistry, config: Config, *,
                           channels: Mapping[str, Any] | None = None) -> list[str]:
    """Register every built-in tool that config enables; returns their names. ``channels`` (name -> Channel)
    lets spawn_subagents edit one progress message in place where the channel supports edits."""
    tools = [*web_tools(config.tools), *file_tools(), *chat_tools(), *skill_tools(),
             subagents_tool(config.tools, channels)]
    if config.tools.shell_enabled:
        tools.append(shell_tool(config.tools))
    for tool in tools:
        registry.register(tool)
    return [tool.name for tool in tools]


def register_commands(registry: CommandRegistry) -> None:
    """``/approve`` (shell approvals). ``/skill`` is registered by ``assistant.skillbook.register_commands``."""
    register_shell_commands(registry)
