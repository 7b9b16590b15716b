"""Crash suite: the real daemon, SIGKILLed at random points under load and restarted, loses nothing, answers
nothing twice, repeats only sends in flight at a kill, runs every due job once, and keeps its database intact.

The CI run uses a few kills; ``python -m tests.reliability.crash_run --kills 50`` is the full run with figures.
The tests below it pin three flaws the crash run found (now fixed), each rebuilt deterministically.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.util import await_only

from assistant.clock import SystemClock
from assistant.daemon import App
from assistant.errors import SendFailed
from assistant.messages import Reply, SentRef
from assistant.outbox import Outbox
from assistant.storage.db import Database
from assistant.storage.tables import Message, TranscriptEntry
from channels.base import Deliver
from channels.console import ConsoleChannel
from tests.conftest import local_model
from tests.reliability.crash_harness import CrashPlan, run_crash_suite
from tests.standins.model_server import ScriptedModelServer

CI_PLAN = CrashPlan(kills=6, members=20, chats=5, rate=20.0, max_up_s=1.5, oneshot_jobs=6, seed=7)


async def test_kill_9_under_load_loses_nothing_and_repeats_only_in_flight_sends(tmp_path: Path) -> None:
    report = await run_crash_suite(CI_PLAN, tmp_path)
    print(report.figures)
    assert report.figures["lost"] == 0
    assert report.figures["answered twice"] == 0
    assert report.figures["integrity_check"] == "ok"
    assert report.figures["messages accepted"] > 50 and report.figures["job runs"] > 0
    assert report.violations == []


# ---- flaws the crash run found (fixed), rebuilt deterministically ---------------------------------------------

class _GatedChannel:
    """A platform whose sends wait for ``release`` (records every reply it was given)."""

    name = "gated"

    def __init__(self) -> None:
        self.received: list[Reply] = []
        self.sending = asyncio.Event()
        self.release = asyncio.Event()
        self._ids = 0

    async def start(self, deliver: Deliver) -> None:
        return None

    async def send(self, reply: Reply) -> SentRef:
        self.received.append(reply)
        self.sending.set()
        await self.release.wait()
        self._ids += 1
        return SentRef((f"g{self._ids}",))

    async def stop(self) -> None:
        return None


async def test_a_scan_during_a_send_does_not_send_it_again(tmp_path: Path) -> None:
    """The outbox reads its table (at start, when a retry is due, on /replay) while sends run: a reply whose send
    finishes while the scan awaits the database must not be pushed (and sent) a second time."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'scan.db'}")
    await db.migrate()
    channel = _GatedChannel()
    outbox = Outbox(db, {"gated": channel}, SystemClock())
    delivered = asyncio.Event()
    armed = False

    def hold_the_scan(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        # The scan's SELECT has read the reply as pending: let the send finish and be recorded before the scan
        # goes on, as happens whenever a delivery completes while a scan awaits the database.
        nonlocal armed
        if armed and statement.lstrip().upper().startswith("SELECT") and "messages.status = " in statement:
            armed = False
            channel.release.set()
            await_only(asyncio.wait_for(delivered.wait(), 10))

    async def on_sent(item: Any, ref: SentRef) -> None:
        delivered.set()

    outbox.sent_hooks.append(on_sent)
    event.listen(db.engine.sync_engine, "after_cursor_execute", hold_the_scan)
    await outbox.start()
    try:
        reply = Reply(channel="gated", chat_id="c1", text="hello", idempotency_key="in:1")
        await outbox.enqueue(reply, None)
        await asyncio.wait_for(channel.sending.wait(), 10)
        armed = True
        await outbox.replay(0)  # an admin replay (of nothing) makes the outbox read its table now
        await asyncio.wait_for(delivered.wait(), 10)
        async with db.session() as s:
            row = (await s.execute(select(Message).where(Message.idempotency_key == "in:1"))).scalar_one()
        for _ in range(50):  # let a second push, if any, reach the channel
            await asyncio.sleep(0)
        assert row.status == "sent"
        assert [r.idempotency_key for r in channel.received] == ["in:1"]
    finally:
        await outbox.aclose()
        await db.aclose()


async def test_a_reply_pending_at_start_is_sent_on_the_first_attempt(make_config: Any,
                                                                     model_server: ScriptedModelServer) -> None:
    """A reply left unsent by a crash waits for its channel to start instead of failing against it (each failure
    cost an attempt and a backoff; quick restarts dead-lettered replies and starved delivery)."""
    config = make_config(models={"standin": local_model(model_server)})
    db = Database(config.database_url)
    await db.migrate()
    # The state a kill leaves behind: a stored reply that was never sent.
    await Outbox(db, {}, SystemClock()).enqueue(
        Reply(channel="slow", chat_id="c1", text="the answer", idempotency_key="in:77"), None)
    await db.aclose()
    channel = _SlowStartChannel()
    async with App(config, channels=[channel], scheduler=False, dashboard=False, status_file=False):
        await asyncio.wait_for(channel.delivered.wait(), 20)
    db = Database(config.database_url)  # read after the stop: the send in flight is recorded by then
    async with db.session() as s:
        row = (await s.execute(select(Message).where(Message.idempotency_key == "in:77"))).scalar_one()
    await db.aclose()
    assert channel.refused == 0
    assert row.attempts == 1


async def test_the_start_up_hook_runs_before_any_channel_can_deliver(make_config: Any,
                                                                    model_server: ScriptedModelServer) -> None:
    """The daemon settles its heap (a 50-70 ms collection) in this hook: a message must not wait for it."""
    config = make_config(models={"standin": local_model(model_server)})
    order: list[str] = []
    channel = _SlowStartChannel()
    channel.CONNECT_S = 0.0
    original_start = channel.start

    async def start(deliver: Deliver) -> None:
        order.append("channel started")
        await original_start(deliver)

    channel.start = start  # type: ignore[method-assign]
    async with App(config, channels=[channel], scheduler=False, dashboard=False, status_file=False,
                   before_channels=lambda: order.append("hook")):
        assert order == ["hook", "channel started"]


class _SlowStartChannel:
    """A platform that takes a moment to connect (token fetch, getMe) and refuses sends until then, as the
    Telegram and Feishu adapters do."""

    name = "slow"
    CONNECT_S = 0.3  # simulated connection latency

    def __init__(self) -> None:
        self.started = False
        self.refused = 0
        self.delivered = asyncio.Event()

    async def start(self, deliver: Deliver) -> None:
        await asyncio.sleep(self.CONNECT_S)
        self.started = True

    async def send(self, reply: Reply) -> SentRef:
        if not self.started:
            self.refused += 1
            raise SendFailed("the slow channel is not started", permanent=False)
        self.delivered.set()
        return SentRef(("s1",))

    async def stop(self) -> None:
        return None


async def test_a_turn_is_in_the_history_exactly_when_its_reply_is_stored(make_config: Any,
                                                                         model_server: ScriptedModelServer) -> None:
    """The transcript of a turn and its reply are one transaction: when storing them fails (here: the write raises
    after the transcript rows went in), neither is kept, the write is made again, and the member's message is in
    the history once."""
    config = make_config(models={"standin": local_model(model_server)})
    console = ConsoleChannel()
    async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
        agents = app.services.agents
        assert agents is not None
        original = agents.save_turn
        failures: list[int] = []

        async def fail_once(s: Any, *, req: Any, result: Any) -> None:
            await original(s, req=req, result=result)
            if not failures:
                failures.append(1)
                raise RuntimeError("the disk went away mid-write")

        agents.save_turn = fail_once  # type: ignore[method-assign]
        mid = await console.say("you", "remember the blue door", chat="c1")
        reply = await console.wait_reply(mid, 20)
        async with app.services.db.session() as s:
            said = (await s.execute(select(TranscriptEntry.content).where(TranscriptEntry.role == "user")))
            entries = [c for c in said.scalars() if "blue door" in c]
            replies = (await s.execute(select(Message).where(Message.direction == "out"))).scalars().all()
    assert failures == [1] and reply.text == "ok"
    assert len(entries) == 1 and len(replies) == 1
    assert len(model_server.requests) == 1  # the answer was written again, the model not asked again
