"""Tool schemas as the model receives them: compact, and still validated in full by the registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from assistant.config import Config
from assistant.tools import Tool, ToolContext, compact_schema
from tests.standins.tool_world import member, open_world


class _Step(BaseModel):
    task: str = Field(min_length=1, max_length=50, description="What to do")
    tools: list[str] = Field(default_factory=list)


class _Args(BaseModel):
    action: Literal["create", "list"]
    when: str | None = Field(default=None, description="The schedule")
    job_id: int | None = None
    count: int = Field(default=3, ge=1, le=9)
    loud: bool = False
    steps: list[_Step] = Field(default_factory=list, min_length=0)


class _Node(BaseModel):
    name: str
    children: list[_Node] = Field(default_factory=list)


async def _echo(args: Any, ctx: ToolContext) -> str:
    return json.dumps(args.model_dump())


def test_schema_has_no_titles_or_nulls_and_inlines_nested_models() -> None:
    schema = compact_schema(_Args.model_json_schema())
    assert schema == {
        "type": "object",
        "required": ["action"],
        "properties": {
            "action": {"enum": ["create", "list"], "type": "string"},
            "when": {"type": "string", "description": "The schedule"},
            "job_id": {"type": "integer"},
            "count": {"default": 3, "maximum": 9, "minimum": 1, "type": "integer"},
            "loud": {"type": "boolean"},
            "steps": {"items": {"properties": {"task": {"description": "What to do", "type": "string"},
                                               "tools": {"items": {"type": "string"}, "type": "array"}},
                                "required": ["task"], "type": "object"},
                      "type": "array"},
        },
    }
    assert "title" not in json.dumps(schema) and "null" not in json.dumps(schema)


def test_a_self_referencing_model_keeps_its_definitions() -> None:
    schema = compact_schema(_Node.model_json_schema())
    assert schema["$defs"]["_Node"]["properties"]["children"]["items"] == {"$ref": "#/$defs/_Node"}
    assert "title" not in json.dumps(schema)


async def test_the_registry_still_validates_what_the_compact_schema_leaves_out(
        make_config: Callable[..., Config]) -> None:
    async with open_world(make_config()) as world:
        world.registry.register(Tool("plan", "Plan things.", _Args, _echo))
        assert "title" not in json.dumps(world.registry.specs(["plan"])[0].parameters)
        allowed = frozenset({"plan"})
        ok = await world.call(member(), "plan", '{"action": "list", "when": null}', allowed=allowed)
        too_long = await world.call(member(), "plan", json.dumps({"action": "create", "steps": [{"task": "x" * 51}]}),
                                    allowed=allowed)
    assert not ok.error and json.loads(ok.content)["when"] is None
    assert too_long.error and "at most 50 characters" in too_long.content
