"""Plain words without a model, through the console: reminders, recurring jobs, remember / forget / recall, in
English and Chinese; phrases that only look like them reach the model. Also the console's way out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from assistant.daemon import App
from assistant.intents import read_intent
from assistant.scheduler import Job
from channels.console import ConsoleChannel, is_leave
from memory.tables import MemoryRecord
from tests.conftest import local_model, write_config
from tests.standins.model_server import ScriptedModelServer

REPLY_TIMEOUT = 20.0
NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday

JOBS = [
    ("remind me every weekday at 9am to check the build", "check the build", "every weekday at 09:00"),
    ("remind me tomorrow at 3pm to call Bob", "call Bob", "once, "),
    ("every Monday at 10 post the standup summary", "post the standup summary", "every Monday at 10:00"),
    ("Please remind me to water the plants every day at 8am", "water the plants", "every day at 08:00"),
    ("每周一上午十点提醒我交周报", "交周报", "每周一 10:00"),
    ("明天下午三点提醒我开会", "开会", "一次，"),
    ("提醒我每天晚上八点吃药", "吃药", "每天 20:00"),
]
NOT_JOBS = [
    "I was reminded every weekday to check the build",
    "he reminds me of my uncle",
    "remember when we shipped the first version?",
    "remember that time we went hiking",
    "can you remind me tomorrow at 3pm to call Bob?",
    "how do reminders work?",
    "remind me what Bob said on Friday",
    "every Monday at 10 we have the standup",
    "forget it",
    "我每周一上午十点开会",
    "明天下午三点提醒我开会吗",
    "你记得我的生日吗？",
    "记住了，谢谢",
    "忘记带钥匙了",
    "删掉第三段",
    "forget to buy milk",
]


@pytest.mark.parametrize(("text", "what", "_"), JOBS)
def test_reminder_phrases_read_as_jobs(text: str, what: str, _: str) -> None:
    intent = read_intent(text, timezone="UTC", now=NOW)
    assert intent is not None and intent.kind == "schedule", text


@pytest.mark.parametrize("text", NOT_JOBS)
def test_phrases_that_only_look_like_commands_are_left_to_the_model(text: str) -> None:
    assert read_intent(text, timezone="UTC", now=NOW) is None


def test_memory_phrases() -> None:
    def kind(text: str) -> tuple[str, str] | None:
        found = read_intent(text, timezone="UTC", now=NOW)
        return (found.kind, found.text) if found else None

    assert kind("remember that my locker code is 4711") == ("remember", "my locker code is 4711")
    assert kind("记住我的工位是A12") == ("remember", "我的工位是A12")
    assert kind("forget my locker code") == ("forget", "my locker code")
    assert kind("忘掉我的工位") == ("forget", "我的工位")
    assert kind("what do you remember about me?") == ("recall", "")
    assert kind("你记得我什么") == ("recall", "")


def _config(home: Path, server: ScriptedModelServer) -> Any:
    from assistant.config import load_config

    path = write_config(home, {"models": {"standin": local_model(server)}, "scheduler": {"enabled": True},
                               "memory": {"enabled": True}, "team": {"timezone": "Asia/Shanghai"}})
    return load_config(path)


async def _ask(console: ConsoleChannel, text: str, user: str = "you") -> str:
    mid = await console.say(user, text, chat="c1")
    return (await console.wait_reply(mid, REPLY_TIMEOUT)).text


async def _jobs(app: App) -> list[Job]:
    async with app.services.db.session() as s:
        return list((await s.execute(select(Job).order_by(Job.id))).scalars())


async def test_plain_words_make_jobs_with_no_model_call(tmp_path: Path, model_server: ScriptedModelServer) -> None:
    console = ConsoleChannel()
    async with App(_config(tmp_path / "home", model_server), channels=[console], dashboard=False,
                   status_file=False) as app:
        answers = [await _ask(console, text) for text, _, _ in JOBS]
        listing = await _ask(console, "/jobs")
        jobs = await _jobs(app)
    assert model_server.requests == []
    assert [j.payload for j in jobs] == [what for _, what, _ in JOBS]
    assert answers[0] == ("Scheduled job #1: check the build, every weekday at 09:00 (Asia/Shanghai). "
                          "Cancel with /cancel 1.")
    assert answers[4].startswith("已安排任务 #5：交周报，每周一 10:00（Asia/Shanghai）") and "/cancel 5" in answers[4]
    for (_, what, schedule), answer, job in zip(JOBS, answers, jobs, strict=True):
        assert "\n" not in answer and what in answer and schedule in answer and f"/cancel {job.id}" in answer
    assert "#1 every weekday at 09:00: “check the build”" in listing


async def test_look_alike_phrases_reach_the_model_and_make_no_job(tmp_path: Path,
                                                                   model_server: ScriptedModelServer) -> None:
    console = ConsoleChannel()
    async with App(_config(tmp_path / "home", model_server), channels=[console], dashboard=False,
                   status_file=False) as app:
        for text in NOT_JOBS[:3] + NOT_JOBS[-3:]:
            model_server.enqueue_text("(model answer)")
            assert await _ask(console, text) == "(model answer)"
        jobs = await _jobs(app)
    assert jobs == []
    asked = [r.body["messages"][-1]["content"] for r in model_server.requests]
    assert all(any(text in content for content in asked) for text in NOT_JOBS[:3] + NOT_JOBS[-3:])


async def test_remember_recall_and_forget_in_plain_words(tmp_path: Path, model_server: ScriptedModelServer) -> None:
    console = ConsoleChannel()
    async with App(_config(tmp_path / "home", model_server), channels=[console], dashboard=False,
                   status_file=False) as app:
        saved = await _ask(console, "remember that my locker code is 4711")
        saved_zh = await _ask(console, "记住我的工位是A12")
        recalled = await _ask(console, "what do you remember about me")
        forgot = await _ask(console, "forget my locker code")
        after = await _ask(console, "你记得我什么")
        async with app.services.db.session() as s:
            texts = [r.text for r in (await s.execute(select(MemoryRecord))).scalars()]
    assert model_server.requests == []
    assert saved.startswith("Remembered (#") and "my locker code is 4711" in saved and "/forget " in saved
    assert saved_zh.startswith("记住了（#") and "/forget " in saved_zh
    assert "my locker code is 4711" in recalled and "我的工位是A12" in recalled
    assert forgot.startswith("Forgotten: 1 record")
    assert "4711" not in after and "我的工位是A12" in after
    assert texts == ["我的工位是A12"]


def test_leave_words() -> None:
    assert is_leave("/quit") and is_leave(" /EXIT ") and not is_leave("/quitting") and not is_leave("quit")


def _chat(home: Path, typed: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEAMCLAW_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "assistant.cli.main", "chat"], input=typed, capture_output=True,
                          text=True, timeout=120, env=env, check=False)


def test_the_chat_command_schedules_from_plain_words_and_leaves_on_quit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home, {"scheduler": {"enabled": True}})
    done = _chat(home, "remind me every weekday at 9am to check the build\n/jobs\n/help\n/quit\n/jobs\n")
    assert done.returncode == 0, done.stderr
    assert "Scheduled job #1: check the build, every weekday at 09:00 (UTC). Cancel with /cancel 1." in done.stdout
    assert "#1 every weekday at 09:00: “check the build”" in done.stdout
    assert "/quit or /exit (or Ctrl-D, Ctrl-C) leaves the chat." in done.stdout
    assert done.stdout.count("“check the build”") == 1  # the /jobs after /quit was never read


def test_one_shot_chats_book_list_and_cancel_jobs(tmp_path: Path) -> None:
    """`teamclaw chat -m` runs no scheduler loop, but books jobs for the daemon, lists and cancels them."""
    home = tmp_path / "home"
    write_config(home, {"scheduler": {"enabled": True}})
    env = {**os.environ, "TEAMCLAW_HOME": str(home)}

    def once(text: str) -> str:
        done = subprocess.run([sys.executable, "-m", "assistant.cli.main", "chat", "-m", text], capture_output=True,
                              text=True, timeout=120, env=env, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "Scheduled job #1: check the build" in once("remind me every weekday at 9am to check the build")
    assert "已安排任务 #2" in once("每周一上午十点提醒我交周报")
    listed = once("/jobs")
    assert "#1 every weekday at 09:00: “check the build”" in listed and "#2" in listed
    assert "Cancelled job #1" in once("/cancel 1")


def test_the_chat_command_leaves_at_the_end_of_input(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(home, {})
    done = _chat(home, "/whoami\n")  # no /quit: Ctrl-D (end of input) leaves
    assert done.returncode == 0, done.stderr
    assert "You are you" in done.stdout


def test_ctrl_c_leaves_the_chat_cleanly(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    home = tmp_path / "home"
    write_config(home, {})
    # A terminal's Ctrl-C: a suite started as a background job ignores SIGINT, and an ignored signal stays ignored
    # in every program it starts, so the chat gets Ctrl-C's default back as it would in a terminal.
    child = pexpect.spawn(sys.executable, ["-m", "assistant.cli.main", "chat"], encoding="utf-8", timeout=60,
                          env={**os.environ, "TEAMCLAW_HOME": str(home)},
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        child.expect("you> ")
        child.sendintr()
        child.expect("bye")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


async def test_words_sent_with_a_file_go_to_the_model() -> None:
    from assistant.commands import CommandContext, CommandRegistry
    from assistant.intents import answer_plain_words
    from assistant.messages import Attachment, ChatKind, Inbound, MemberScope

    text = "remember that this is my desk"
    scope = MemberScope(member_id=1, member_name="you", channel="console", chat_id="c1", chat_kind=ChatKind.DIRECT)
    inbound = Inbound(channel="console", chat_id="c1", chat_kind=ChatKind.DIRECT, sender_id="you", sender_name="you",
                      text=text, platform_message_id="m1", attachments=(Attachment("image", "f1", "desk.jpg"),))
    ctx = CommandContext(scope=scope, services=None, inbound=inbound)  # type: ignore[arg-type]
    assert await answer_plain_words(text, ctx, CommandRegistry()) is None  # nothing was touched: services is None
