"""Sensitivity, not visibility, keeps a turn local: a cloud-only team with memory on is answered by the cloud for
everything ordinary, personal data never reaches the cloud and the member is told why, and a group reply never
carries what a member told the assistant in private (that answer goes to their direct chat)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from assistant.daemon import App
from assistant.dispatch import DIRECT_ANSWER_NOTE
from channels.console import ConsoleChannel
from tests.conftest import cloud_model, local_model, write_config
from tests.standins.group_world import (
    GroupFeishu,
    GroupTelegram,
    feishu_say,
    feishu_section,
    group_config,
    pusher_for,
    start_app,
    telegram_section,
)
from tests.standins.model_server import ScriptedModelServer, ScriptedReply

REPLY_TIMEOUT = 30.0
PHONE = "13812345678"
ID_NUMBER = "11010519491231002X"
PERSONAL = f"my phone is {PHONE} and my ID number is {ID_NUMBER}, please fill in the visa form"
ORDINARY = ("hello there", "remember that I prefer green tea", "what is the capital of France?",
            "what is 17 times 23?", "give me three ideas for a team lunch")
SNACK = "ultramarine cookie"


def _echo(body: dict[str, Any]) -> ScriptedReply:
    """The cloud model answers with what it was given last, so a test sees what reached it and where it went."""
    last = body["messages"][-1]
    content = last.get("content")
    text = content if isinstance(content, str) else json.dumps(content)
    return ScriptedReply(text=f"cloud says: {text[-600:]}")


def _cloud_only(cloud: ScriptedModelServer) -> dict[str, Any]:
    return {"cloud": {**cloud_model(cloud, tier=1), "max_retries": 0, "timeout_s": 20}}


# No local model at all: what a team that set up only a cloud model has where the bundled one cannot run.
CLOUD_ONLY_ROUTING = {"bundled_model": False}


def _assert_told_why(reply: str) -> None:
    assert "phone number" in reply and "ID card number" in reply, reply
    assert "stays on this machine" in reply and "teamclaw onboard" in reply, reply
    assert "cannot reach any model" not in reply


async def test_cloud_only_with_memory_answers_ordinary_messages_and_keeps_personal_data_home(
        make_config: Any) -> None:
    with ScriptedModelServer(_echo) as cloud:
        config = make_config(models=_cloud_only(cloud), memory={"enabled": True}, routing=CLOUD_ONLY_ROUTING)
        console = ConsoleChannel()
        async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False):
            async def say(text: str) -> str:
                mid = await console.say("you", text, chat="you")
                return (await console.wait_reply(mid, REPLY_TIMEOUT)).text

            for text in ORDINARY:
                reply = await say(text)
                assert "cannot reach" not in reply and "stays on this machine" not in reply, (text, reply)
            asked = [r for r in cloud.requests if "17 times 23" in json.dumps(r.body["messages"][-1])]
            assert asked, "the cloud model answered the ordinary question"
            before = len(cloud.requests)
            _assert_told_why(await say(PERSONAL))
            assert len(cloud.requests) == before
            # The session goes on: the next ordinary message is answered by the cloud, without the personal data.
            after = await say("and one more idea for the lunch, please")
            assert after.startswith("cloud says:"), after
        assert PHONE not in cloud.all_text() and ID_NUMBER not in cloud.all_text()


def _cli(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "TEAMCLAW_HOME": str(home)}, check=False)


def test_cli_one_shots_on_a_cloud_only_setup(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with ScriptedModelServer(_echo) as cloud:
        cfg = write_config(home, {"models": _cloud_only(cloud), "memory": {"enabled": True},
                                  "routing": CLOUD_ONLY_ROUTING})
        for text in ORDINARY:
            done = _cli(["chat", "--config", str(cfg), "-m", text], home)
            assert done.returncode == 0, done.stderr
            assert "cannot reach" not in done.stdout and "stays on this machine" not in done.stdout, done.stdout
        personal = _cli(["chat", "--config", str(cfg), "-m", PERSONAL], home)
        assert personal.returncode == 0, personal.stderr
        _assert_told_why(personal.stdout)
        route = _cli(["route", "--config", str(cfg), "--json", "what is 17 times 23?"], home)
        decision = json.loads(route.stdout.strip().splitlines()[-1])
        assert decision["private"] is False and decision["model"] == "cloud"
        # As the member, with what their turn would recall: the green tea note comes along and is harmless; the
        # personal data they once sent is sensitive and, with no local model, left out, as the daemon does.
        drink = _cli(["route", "--config", str(cfg), "--json", "--member", "console:you",
                      "which tea do I prefer?"], home)
        as_member = json.loads(drink.stdout.strip().splitlines()[-1])
        assert as_member["recalled"] >= 1 and as_member["memory_private"] is False, as_member
        assert as_member["private"] is False and as_member["model"] == "cloud"
        phone = _cli(["route", "--config", str(cfg), "--json", "--member", "console:you",
                      "what phone number and ID number did I give for the visa form?"], home)
        withheld = json.loads(phone.stdout.strip().splitlines()[-1])
        assert withheld["withheld_sensitive"] >= 1 and withheld["private"] is False, withheld
        # A member the team does not know: said on stderr, decided on the text alone.
        stranger = _cli(["route", "--config", str(cfg), "--json", "--member", "console:nobody", "hello"], home)
        assert stranger.returncode == 0 and "no member 'console:nobody'" in stranger.stderr
        assert "recalled" not in json.loads(stranger.stdout.strip().splitlines()[-1])
        assert PHONE not in cloud.all_text() and ID_NUMBER not in cloud.all_text()


async def test_telegram_personal_data_stays_home_and_the_member_is_told(tmp_path: Path) -> None:
    with ScriptedModelServer(_echo) as cloud, GroupTelegram() as telegram:
        config = group_config(tmp_path / "home", cloud, telegram=telegram_section(telegram),
                              allowed_members=["telegram:501"], memory=True, models=_cloud_only(cloud),
                              routing=CLOUD_ONLY_ROUTING)
        async with start_app(config):
            first = telegram.say(501, 501, "Ana", "what is the capital of France?", chat_type="private")
            assert (await telegram.wait_for_reply(501, first)).text.startswith("cloud says:")
            second = telegram.say(501, 501, "Ana", PERSONAL, chat_type="private")
            _assert_told_why((await telegram.wait_for_reply(501, second)).text)
        assert PHONE not in cloud.all_text() and ID_NUMBER not in cloud.all_text()


async def test_feishu_personal_data_stays_home_and_the_member_is_told(tmp_path: Path) -> None:
    with ScriptedModelServer(_echo) as cloud, GroupFeishu() as feishu:
        config = group_config(tmp_path / "home", cloud, feishu=feishu_section(feishu),
                              allowed_members=["feishu:ou_ana"], memory=True, models=_cloud_only(cloud),
                              routing=CLOUD_ONLY_ROUTING)
        async with start_app(config) as app:
            pusher = pusher_for(app, feishu)
            first = await feishu_say(pusher, feishu, "oc_dm_ana", "ou_ana", "what is the capital of France?",
                                     chat_type="p2p")
            assert _text(await feishu.wait_for_reply(first)).startswith("cloud says:")
            second = await feishu_say(pusher, feishu, "oc_dm_ana", "ou_ana", PERSONAL, chat_type="p2p")
            _assert_told_why(_text(await feishu.wait_for_reply(second)))
        assert PHONE not in cloud.all_text() and ID_NUMBER not in cloud.all_text()


def _text(sent: Any) -> str:
    return str(sent.text)


async def test_telegram_group_reply_never_carries_a_private_fact_and_the_direct_answer_arrives(
        tmp_path: Path) -> None:
    group = -100777
    with ScriptedModelServer(_echo) as cloud, GroupTelegram() as telegram:
        config = group_config(tmp_path / "home", cloud, telegram=telegram_section(telegram),
                              allowed_members=["telegram:501", "telegram:502"],
                              allowed_chats=[f"telegram:{group}"], memory=True, models=_cloud_only(cloud),
                              routing=CLOUD_ONLY_ROUTING)
        async with start_app(config):
            told = telegram.say(501, 501, "Ana", f"remember that my favourite snack is the {SNACK}",
                                chat_type="private")
            await telegram.wait_for_reply(501, told)
            asked = telegram.say(group, 501, "Ana", "what is my favourite snack?")
            in_group = await telegram.wait_for_reply(group, asked)
            assert DIRECT_ANSWER_NOTE in in_group.text and SNACK not in in_group.text
            await telegram.wait_until(lambda: any(SNACK in s.text for s in telegram.sent if s.chat_id == 501),
                                      "the direct answer")
            # Bob asks in the group about his own snack: an ordinary group answer, nothing of Ana's in it.
            bob = telegram.say(group, 502, "Bob", "what is a good snack for the afternoon?")
            assert SNACK not in (await telegram.wait_for_reply(group, bob)).text
        assert all(SNACK not in s.text for s in telegram.sent if s.chat_id == group)


async def test_feishu_group_reply_never_carries_a_private_fact_and_the_direct_answer_arrives(
        tmp_path: Path) -> None:
    with ScriptedModelServer(_echo) as cloud, GroupFeishu() as feishu:
        config = group_config(tmp_path / "home", cloud, feishu=feishu_section(feishu),
                              allowed_members=["feishu:ou_ana", "feishu:ou_bob"],
                              allowed_chats=["feishu:oc_team"], memory=True, models=_cloud_only(cloud),
                              routing=CLOUD_ONLY_ROUTING)
        async with start_app(config) as app:
            pusher = pusher_for(app, feishu)
            told = await feishu_say(pusher, feishu, "oc_dm_ana", "ou_ana",
                                    f"remember that my favourite snack is the {SNACK}", chat_type="p2p")
            await feishu.wait_for_reply(told)
            asked = await feishu_say(pusher, feishu, "oc_team", "ou_ana", "what is my favourite snack?")
            assert DIRECT_ANSWER_NOTE in _text(await feishu.wait_for_reply(asked))
            await feishu.wait_until(lambda: any(s.chat_id == "ou_ana" and SNACK in _text(s) for s in feishu.sent),
                                    "the direct answer")
        assert all(SNACK not in _text(s) for s in feishu.sent if s.chat_id == "oc_team")



async def test_what_a_turn_stores_is_judged_at_the_configured_privacy_settings(make_config: Any,
                                                                               model_server: ScriptedModelServer
                                                                               ) -> None:
    import asyncio

    from sqlalchemy import select

    from assistant.privacy import DETECTOR_VERSION
    from assistant.storage.tables import TranscriptEntry
    from memory.tables import MemoryRecord

    mum = "my mum's MRI is on Friday and I am worried about the results"  # context only: ~0.97 by default
    config = make_config(models={"standin": local_model(model_server)}, memory={"enabled": True},
                         routing={"privacy_threshold": 0.99})
    console = ConsoleChannel()
    async with App(config, channels=[console], dashboard=False, status_file=False) as app:
        mid = await console.say("you", mum, chat="you")
        await console.wait_reply(mid, REPLY_TIMEOUT)
        async with asyncio.timeout(REPLY_TIMEOUT):
            while True:  # the turn is journaled just after its reply is stored
                async with app.services.db.session() as s:
                    records = (await s.scalars(select(MemoryRecord).where(MemoryRecord.text.contains("MRI")))).all()
                    entries = (await s.scalars(
                        select(TranscriptEntry).where(TranscriptEntry.content.contains("MRI")))).all()
                if records and entries:
                    break
                await asyncio.sleep(0.05)
    # The router's settings, in every verdict the turn wrote: not private at 0.99 (it is at the defaults).
    assert {(r.private, r.detector_version) for r in [*records, *entries]} == {(False, f"{DETECTOR_VERSION}/t0.99")}


async def test_the_daemon_judges_a_files_text_again_when_the_privacy_settings_changed(
    tmp_path: Path, make_config: Any, model_server: ScriptedModelServer
) -> None:
    import asyncio

    from assistant.media import FileStore
    from assistant.members import Directory
    from assistant.messages import ChatKind, MemberScope
    from assistant.privacy import DETECTOR_VERSION
    from assistant.sensitivity import Judge
    from assistant.storage.db import Database

    mum = "my mum's MRI is on Friday and I am worried about the results"  # private at the defaults, not at 0.99
    config = make_config(models={"standin": local_model(model_server)}, media={"ocr": False})
    db = Database(config.database_url)
    await db.migrate()
    try:  # a file read while routing.privacy_threshold was 0.99
        alice = (await Directory(db, config.team, config.access, config.routing).member_for("console", "a", "A")).id
        store = FileStore(db, config.workspace_dir)
        scope = MemberScope(member_id=alice, member_name="A", channel="console", chat_id="a",
                            chat_kind=ChatKind.DIRECT)
        saved = await store.save(scope, b"%PDF-1.4 ...",
                                 kind="file", mime="application/pdf", name="note.pdf", local_only=False)
        await store.record_reading(saved.file_id, mum, Judge(0.99).judge(mum))
        [before] = await store.files_of(alice)
        assert not before.sensitive
    finally:
        await db.aclose()
    async with App(config, channels=[ConsoleChannel()], dashboard=False, status_file=False) as app:
        async with asyncio.timeout(REPLY_TIMEOUT):
            while True:  # judged again in the background after the start, at the settings now configured
                [after] = await app.services.media.store.files_of(alice)
                if after.detector_version == DETECTOR_VERSION:
                    break
                await asyncio.sleep(0.05)
    assert after.sensitive and after.sensitivity_kinds == ["health"]
