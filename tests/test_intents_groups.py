"""Plain words in groups, on the Telegram and Feishu stand-ins: a member who addresses the bot with a reminder gets
a job of their own, confirmed in the group, and the model hears nothing of it; look-alike phrases reach the model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from assistant.config import Config
from assistant.daemon import App
from assistant.scheduler import Job
from tests.standins.group_world import (
    GroupFeishu,
    GroupTelegram,
    feishu_say,
    feishu_section,
    group_config,
    pusher_for,
    telegram_section,
)
from tests.standins.model_server import ScriptedModelServer

TG_TEAM = -1001000000001
ALICE, BOB = 1001, 1002
FS_TEAM = "oc_team"


@pytest.fixture
def tg() -> Iterator[GroupTelegram]:
    with GroupTelegram() as fake:
        yield fake


@pytest.fixture
def fs() -> Iterator[GroupFeishu]:
    with GroupFeishu() as fake:
        fake.add_user("ou_alice", "Alice")
        fake.add_user("ou_bob", "Bob")
        yield fake


def _app(config: Config) -> App:
    return App(config, dashboard=False, status_file=False)  # the scheduler runs: jobs are made and kept


async def _jobs(app: App) -> list[Job]:
    async with app.services.db.session() as s:
        return list((await s.execute(select(Job).order_by(Job.id))).scalars())


async def test_telegram_group_reminders_belong_to_who_asked(tmp_path: Path, tg: GroupTelegram,
                                                             model_server: ScriptedModelServer) -> None:
    config = group_config(tmp_path / "home", model_server, telegram=telegram_section(tg),
                          allowed_chats=[f"telegram:{TG_TEAM}"], scheduler={"enabled": True},
                          team={"owners": ["telegram:9001"], "timezone": "Asia/Shanghai"})
    async with _app(config) as app:
        asked = tg.say(TG_TEAM, ALICE, "Alice", "remind me every weekday at 9am to check the build")
        confirmed = await tg.wait_for_reply(TG_TEAM, asked)
        asked_zh = tg.say(TG_TEAM, BOB, "Bob", "每周一上午十点提醒我交周报")
        confirmed_zh = await tg.wait_for_reply(TG_TEAM, asked_zh)
        model_server.enqueue_text("(model answer)")
        aside = tg.say(TG_TEAM, BOB, "Bob", "I was reminded every weekday to check the build")
        answered = await tg.wait_for_reply(TG_TEAM, aside)
        jobs = await _jobs(app)
    assert confirmed.chat_id == TG_TEAM and confirmed.text.startswith(
        "Scheduled job #1: check the build, every weekday at 09:00 (Asia/Shanghai). Cancel with /cancel 1.")
    assert confirmed_zh.chat_id == TG_TEAM and "已安排任务 #2：交周报，每周一 10:00" in confirmed_zh.text
    assert answered.text.endswith("(model answer)")
    assert [(j.payload, j.owner_name, j.owner_platform_id, j.chat_id) for j in jobs] == [
        ("check the build", "Alice", str(ALICE), str(TG_TEAM)),
        ("交周报", "Bob", str(BOB), str(TG_TEAM)),
    ]
    assert jobs[0].member_id != jobs[1].member_id
    # The model heard only the look-alike phrase.
    assert len(model_server.requests) == 1
    assert "I was reminded every weekday" in model_server.requests[0].body["messages"][-1]["content"]


async def test_feishu_group_reminders_belong_to_who_asked(tmp_path: Path, fs: GroupFeishu,
                                                           model_server: ScriptedModelServer) -> None:
    config = group_config(tmp_path / "home", model_server, feishu=feishu_section(fs),
                          allowed_chats=[f"feishu:{FS_TEAM}"], scheduler={"enabled": True},
                          team={"owners": ["feishu:ou_owner"], "timezone": "Asia/Shanghai"})
    async with _app(config) as app:
        pusher = pusher_for(app, fs)
        asked = await feishu_say(pusher, fs, FS_TEAM, "ou_alice", "明天下午三点提醒我开会")
        confirmed = await fs.wait_for_reply(asked)
        asked_en = await feishu_say(pusher, fs, FS_TEAM, "ou_bob", "remind me tomorrow at 3pm to call Carol")
        confirmed_en = await fs.wait_for_reply(asked_en)
        model_server.enqueue_text("(model answer)")
        aside = await feishu_say(pusher, fs, FS_TEAM, "ou_bob", "he reminds me of my uncle")
        answered = await fs.wait_for_reply(aside)
        jobs = await _jobs(app)
    assert confirmed.chat_id == FS_TEAM and "已安排任务 #1：开会，一次" in confirmed.text
    assert "/cancel 1" in confirmed.text
    assert confirmed_en.chat_id == FS_TEAM and confirmed_en.text.startswith("Scheduled job #2: call Carol, once, ")
    assert "(model answer)" in answered.text
    assert [(j.payload, j.owner_name, j.owner_platform_id, j.chat_id) for j in jobs] == [
        ("开会", "Alice", "ou_alice", FS_TEAM),
        ("call Carol", "Bob", "ou_bob", FS_TEAM),
    ]
    assert len(model_server.requests) == 1
    assert "he reminds me of my uncle" in model_server.requests[0].body["messages"][-1]["content"]
