"""`teamclaw route` (one message, JSON lines on stdin), `teamclaw usage` and the `/usage` chat command."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from assistant.cli.main import app
from assistant.clock import SystemClock
from assistant.commands import CommandContext, CommandRegistry
from assistant.config import load_config
from assistant.messages import ChatKind, Inbound, MemberScope, utcnow
from assistant.router import Router
from assistant.services import Services
from assistant.storage.db import Database
from assistant.storage.tables import Member, ModelCall
from assistant.tools import ToolRegistry
from assistant.usage import register_commands
from tests.conftest import write_config

NOWHERE = "http://127.0.0.1:9/v1"  # route never sends: nothing listens here and nothing may try
SAMPLE_MODELS: dict[str, Any] = {
    "small": {"provider": "openai", "base_url": NOWHERE, "model": "qwen2.5-7b", "location": "local", "tier": 1},
    "cloud": {"provider": "openai", "base_url": NOWHERE, "model": "mid", "tier": 2, "price_input": 1.0,
              "price_output": 4.0},
    "strong": {"provider": "anthropic", "base_url": NOWHERE, "model": "top", "tier": 3, "price_input": 3.0,
               "price_output": 15.0, "abilities": ["tools", "vision"]},
}


def test_route_works_with_the_embedded_default_and_no_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["route", "my number is 13812345678"])
    assert result.exit_code == 0, result.output
    assert "private -> local (local)" in result.output
    assert "reason: private: phone number" in result.output
    assert not (tmp_path / "home").exists()  # explaining creates no files


def test_route_reads_json_lines_and_answers_one_decision_each(tmp_path: Path) -> None:
    config = write_config(tmp_path / "home", {"models": SAMPLE_MODELS})
    lines = [
        {"id": "a", "text": "我手机号13812345678，有事直接打给我"},
        {"id": 7, "text": "帮我设计一个支持百万级并发的消息推送系统架构，要考虑离线消息和消息顺序"},
        {"id": "c", "text": "谢谢大家，今天辛苦了"},
        {"text": "no id here"},
    ]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n"
    result = CliRunner().invoke(app, ["route", "--stdin", "--config", str(config)], input=stdin)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.output.splitlines()]
    assert [o["id"] for o in out] == ["a", 7, "c", 4]
    assert set(out[0]) == {"id", "private", "location", "model", "tier", "difficulty", "reason", "findings", "chain",
                           "spans", "elapsed_ms"}
    assert {"kind": "phone", "start": 4, "end": 15, "text": "13812345678"}.items() <= out[0]["spans"][0].items()
    assert all(isinstance(o["elapsed_ms"], float) and o["elapsed_ms"] >= 0 for o in out)
    assert (out[0]["private"], out[0]["location"], out[0]["model"], out[0]["findings"]) == (
        True, "local", "small", ["phone"])
    assert out[0]["chain"] == ["small"]
    assert (out[1]["private"], out[1]["location"], out[1]["model"], out[1]["difficulty"]) == (
        False, "cloud", "cloud", "hard")
    assert out[1]["reason"] == "hard: planning"
    assert (out[2]["model"], out[2]["difficulty"], out[2]["tier"]) == ("small", "easy", 1)


def test_route_options_for_member_chat_role_and_json(tmp_path: Path) -> None:
    config = write_config(tmp_path / "home", {"models": SAMPLE_MODELS,
                                              "routing": {"private_members": ["telegram:42"],
                                                          "roles": {"compaction": "strong"}}})
    runner = CliRunner()
    as_member = runner.invoke(app, ["route", "design the architecture of our billing system in detail",
                                    "--member", "telegram:42", "--json", "-c", str(config)])
    pinned = runner.invoke(app, ["route", "summarise the thread", "--role", "compaction", "--json",
                                 "-c", str(config)])
    bad = runner.invoke(app, ["route", "x", "--role", "poetry", "-c", str(config)])
    decided = json.loads(as_member.output)
    assert decided["private"] and decided["location"] == "local"
    assert "member in routing.private_members" in decided["reason"]
    assert json.loads(pinned.output)["model"] == "strong"
    assert bad.exit_code != 0


def _seed(db_url: str) -> None:
    async def seed() -> None:
        db = Database(db_url)
        await db.migrate()
        async with db.session() as session:
            session.add(Member(id=1, name="Alice"))
            session.add(Member(id=2, name="Bob"))
            await session.flush()
            for member, model, reason, t_in, cached, cost, ok in [
                (1, "cloud", "hard: code", 1000, 400, 0.02, True),
                (1, "small", "private: phone number", 500, 0, 0.0, True),
                (2, "cloud", "hard: planning; budget: member daily 82%", 2000, 0, 0.05, True),
                (2, "cloud", "hard: planning", 0, 0, 0.0, False),
            ]:
                session.add(ModelCall(member_id=member, role="chat", model=model, location="local"
                                      if model == "small" else "cloud", tokens_in=t_in, tokens_out=100,
                                      cached_tokens=cached, cost=cost, route_reason=reason, ok=ok))
            session.add(ModelCall(member_id=1, role="chat", model="cloud", location="cloud", cost=9.0,
                                  route_reason="hard: code", created_at=utcnow() - timedelta(days=40)))
        await db.aclose()

    asyncio.run(seed())


def test_usage_reports_by_member_model_and_reason(tmp_path: Path) -> None:
    config = write_config(tmp_path / "home", {"models": SAMPLE_MODELS})
    runner = CliRunner()
    empty = runner.invoke(app, ["usage", "-c", str(config)])
    assert "nothing has been used" in empty.output
    _seed(load_config(config).database_url)
    result = runner.invoke(app, ["usage", "--days", "30", "--json", "-c", str(config)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["total"]["calls"] == 4 and report["total"]["failed"] == 1
    assert round(report["total"]["cost"], 4) == 0.07
    assert {x["key"]: x["calls"] for x in report["by_member"]} == {"Alice": 2, "Bob": 2}
    assert {x["key"]: x["calls"] for x in report["by_reason"]} == {"hard": 3, "private": 1}
    assert {x["key"]: round(x["cost"], 4) for x in report["by_model"]} == {"cloud": 0.07, "small": 0.0}
    assert report["total"]["cached_tokens"] == 400
    text = runner.invoke(app, ["usage", "--member", "1", "-c", str(config)]).output
    assert "Member 1 model usage, last 30 days" in text and "2 calls" in text and "by route reason:" in text


async def test_usage_command_shows_own_usage_and_team_usage_to_admins(tmp_path: Path) -> None:
    config_path = write_config(tmp_path / "home", {"models": SAMPLE_MODELS, "budgets": {"member_daily": 0.1}})
    config = load_config(config_path)
    await asyncio.to_thread(_seed, config.database_url)
    db = Database(config.database_url)
    router = Router(config, db)
    services = Services(config=config, db=db, router=router, tools=ToolRegistry(), clock=SystemClock())
    registry = CommandRegistry()
    register_commands(registry)
    try:
        async def run(args: str, *, admin: bool) -> str:
            scope = MemberScope(member_id=1, member_name="Alice", channel="telegram", chat_id="1",
                                chat_kind=ChatKind.DIRECT, is_admin=admin)
            inbound = Inbound(channel="telegram", chat_id="1", chat_kind=ChatKind.DIRECT, sender_id="1",
                              sender_name="Alice", text=f"/usage {args}", platform_message_id="m1")
            return await registry.run("usage", args, CommandContext(scope, services, inbound))

        own = await run("", admin=False)
        assert "Your model usage, last 30 days" in own and "2 calls" in own
        assert "budget: member daily 20%" in own
        assert "Only admins" in await run("team", admin=False)
        team = await run("team 7", admin=True)
        assert "Team model usage, last 7 days" in team and "4 calls" in team and "Bob" in team
    finally:
        await router.aclose()
        await db.aclose()
