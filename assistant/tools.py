"""The tool registry: a tool is a name, a description, a pydantic argument model and an async function.

The registry is the only place tools are called: it checks the member's permission, validates arguments, enforces a
time limit and an output limit, and turns every failure into a result the model can read, so no tool can crash a
turn. Tools receive a ``ToolContext`` that carries the member scope of the turn; nothing is kept between turns.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from assistant.errors import PermissionDenied, ToolError
from assistant.messages import MemberScope
from assistant.providers.base import ToolSpec

if TYPE_CHECKING:
    from assistant.services import Services

__all__ = ["Tool", "ToolContext", "ToolRegistry", "ToolResult", "compact_schema"]

log = logging.getLogger(__name__)

DEFAULT_TOOL_TIMEOUT_S = 60.0
MAX_RESULT_CHARS = 16_000


@dataclass(frozen=True, slots=True)
class ToolResult:
    content: str
    # The result holds private data (a member's private memory, a private file): the rest of the turn stays local.
    private: bool = False
    error: bool = False


@dataclass(frozen=True, slots=True)
class ToolContext:
    scope: MemberScope
    services: Services
    allowed_tools: frozenset[str]
    session_id: int | None = None
    depth: int = 0  # sub-agent nesting depth
    inbound_message_id: int | None = None


ToolFunc = Callable[[Any, ToolContext], Awaitable["ToolResult | str"]]


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    args: type[BaseModel]
    func: ToolFunc
    timeout_s: float = DEFAULT_TOOL_TIMEOUT_S
    # Safe for any group member (the default tool set of non-owners); anything else needs an explicit grant.
    group_safe: bool = False

    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description,
                        parameters=compact_schema(self.args.model_json_schema()))


# Sent with every request, so every token counts: pydantic's titles repeat the property names, and length limits
# are checked by the registry anyway (a violation comes back as a readable error the model can correct).
_DROPPED_KEYS = frozenset({"title", "minLength", "maxLength", "minItems", "maxItems"})
_NULL = {"type": "null"}


def _says_nothing(value: Any) -> bool:
    """A default that means "absent": the model learns nothing from being told it."""
    return value is None or value is False or value == "" or value == [] or value == {}


def compact_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of a tool's arguments as the model needs it: no titles or length limits, ``$defs`` inlined,
    and an optional argument written as its plain type (``anyOf: [T, null]`` with ``default: null`` becomes
    ``T``, left out of ``required``), since leaving it out is how a model says "none"."""
    defs: dict[str, Any] = schema.get("$defs", {})
    expanding: list[str] = []
    recursive = False

    def walk(node: Any) -> Any:
        nonlocal recursive
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in expanding or name not in defs:
                recursive = True  # a self-referencing model keeps its $defs
                return dict(node)
            expanding.append(name)
            try:
                return walk({**defs[name], **{k: v for k, v in node.items() if k != "$ref"}})
            finally:
                expanding.pop()
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED_KEYS or key == "$defs":
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {prop: walk(sub) for prop, sub in value.items()}
            else:
                out[key] = walk(value)
        options = out.get("anyOf")
        if isinstance(options, list) and _NULL in options:
            rest = [option for option in options if option != _NULL]
            if len(rest) == 1 and isinstance(rest[0], dict):
                del out["anyOf"]
                out = {**rest[0], **out}
        if "default" in out and _says_nothing(out["default"]):
            del out["default"]
        return out

    def walk_definition(name: str) -> Any:
        expanding.append(name)  # inside its own definition a model refers to itself
        try:
            return walk(defs[name])
        finally:
            expanding.pop()

    compact: dict[str, Any] = walk(schema)
    if recursive and defs:
        compact["$defs"] = {name: walk_definition(name) for name in defs}
    return compact


def _cached_spec(tool: Tool, cache: dict[str, ToolSpec]) -> ToolSpec:
    # Generating a JSON schema is slow and its output never changes for a registered tool.
    spec = cache.get(tool.name)
    if spec is None:
        spec = cache[tool.name] = tool.spec()
    return spec


@dataclass
class ToolRegistry:
    _tools: dict[str, Tool] = field(default_factory=dict)
    _specs: dict[str, ToolSpec] = field(default_factory=dict)

    def register(self, tool: Tool) -> None:
        if tool.name in self._tools:
            raise ToolError(f"tool {tool.name!r} is registered twice")
        self._tools[tool.name] = tool

    def unregister(self, name: str) -> None:
        self._tools.pop(name, None)
        self._specs.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._tools)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def specs(self, allowed: Iterable[str]) -> tuple[ToolSpec, ...]:
        """Specs in name order, so the prompt prefix stays byte-stable between turns."""
        allowed_set = set(allowed)
        return tuple(_cached_spec(self._tools[n], self._specs) for n in sorted(self._tools) if n in allowed_set)

    async def call(self, name: str, raw_arguments: str, ctx: ToolContext) -> ToolResult:
        tool = self._tools.get(name)
        if tool is None:
            return ToolResult(f"error: there is no tool named {name!r}; available: {', '.join(self.names())}",
                              error=True)
        if name not in ctx.allowed_tools:
            return ToolResult(f"error: {ctx.scope.member_name} is not permitted to use {name!r}", error=True)
        try:
            data = json.loads(raw_arguments or "{}")
            if not isinstance(data, dict):
                raise ValueError("arguments must be a JSON object")
            args = tool.args.model_validate(data)
        except (ValueError, ValidationError) as exc:
            return ToolResult(f"error: malformed arguments for {name!r}: {exc}", error=True)
        try:
            async with asyncio.timeout(tool.timeout_s):
                out = await tool.func(args, ctx)
        except TimeoutError:
            return ToolResult(f"error: {name!r} did not finish within {tool.timeout_s:.0f} s", error=True)
        except (ToolError, PermissionDenied) as exc:
            return ToolResult(f"error: {exc}", error=True)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("tool %s failed", name)
            return ToolResult(f"error: {name!r} failed unexpectedly; the failure was logged", error=True)
        result = out if isinstance(out, ToolResult) else ToolResult(str(out))
        if len(result.content) > MAX_RESULT_CHARS:
            cut = len(result.content) - MAX_RESULT_CHARS
            result = ToolResult(result.content[:MAX_RESULT_CHARS] + f"\n[... {cut} more characters cut]",
                                private=result.private, error=result.error)
        return result
