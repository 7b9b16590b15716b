"""Who may use which tool: computed once per turn from the member scope and config, passed in ``ToolContext``.

- owners and admins: every registered tool;
- other members in a group chat: ``tools.group_safe_tools`` (nothing else, whatever a tool says of itself);
- other members in a direct chat: the group-safe set plus their own files and skill drafts;
- ``shell``: only when ``tools.shell_enabled`` and the member is listed in ``tools.shell_members`` (admins too).
A sub-agent gets the intersection of what it asks for and what its caller had.
"""

from __future__ import annotations

from collections.abc import Collection

from assistant.config import Config
from assistant.messages import ChatKind, MemberScope
from assistant.tools import ToolRegistry

__all__ = ["DIRECT_CHAT_EXTRA_TOOLS", "SHELL_TOOL", "allowed_tools", "shell_permitted"]

SHELL_TOOL = "shell"
# What a member may use in their own direct chat beyond the group-safe set: their workspace and their drafts.
DIRECT_CHAT_EXTRA_TOOLS = frozenset({"file_read", "file_write", "file_list", "send_file", "skill_draft"})


def shell_permitted(scope: MemberScope, config: Config, identities: Collection[str] = ()) -> bool:
    """``identities`` are the member's "channel:platform_user_id" refs, when the caller knows them."""
    if not config.tools.shell_enabled:
        return False
    listed = set(config.tools.shell_members)
    return f"member:{scope.member_id}" in listed or any(ref in listed for ref in identities)


def allowed_tools(scope: MemberScope, config: Config, registry: ToolRegistry, *,
                  identities: Collection[str] = ()) -> frozenset[str]:
    enabled = set(registry.names())
    if scope.is_admin:
        granted = set(enabled)
    else:
        granted = set(config.tools.group_safe_tools)
        if scope.chat_kind is ChatKind.DIRECT:
            granted |= DIRECT_CHAT_EXTRA_TOOLS
    granted.discard(SHELL_TOOL)
    if shell_permitted(scope, config, identities):
        granted.add(SHELL_TOOL)
    return frozenset(granted & enabled)
