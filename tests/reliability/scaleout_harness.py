"""Several real daemon processes on one PostgreSQL, one of them SIGKILLed midway.

Shared by the multi-process tests and ``teamclaw bench scaleout``. In webhook mode every daemon listens on its own
port and the harness is the load balancer: it posts each member's next message to the next live process and,
when a process does not answer, to the next one (as Telegram retries). In polling mode one process polls the bot
(the receiver lease) and it is the one killed. Members write in a closed loop (the next message after the reply to
the last). Each process has a model stand-in of its own, so the turns each process ran
are counted where they happened; one responder behind all of them notes any two turns of one member at once.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.reliability.daemon_process import DaemonProcess, daemon_config, write_daemon_config
from tests.standins.model_server import ScriptedModelServer, ScriptedReply
from tests.standins.telegram_server import FakeTelegram

__all__ = ["ScaleoutPlan", "ScaleoutResult", "run_scaleout"]

KEY = re.compile(r"\[k=(\d+)\]")
SECRET = "scaleout-secret"
FIRST_USER = 7_000_000
FIRST_CHAT = -1_009_000_000


@dataclass(frozen=True, slots=True)
class ScaleoutPlan:
    workers: int = 2
    members: int = 200
    groups: int = 20
    messages_per_member: int = 4
    burst: int = 2  # messages a member sends at once (the balancer spreads them over processes)
    # Messages a second offered by all members together (each waits a think time between its bursts); 0: as fast
    # as the answers come. Below capacity, the failover figure is the takeover, not a saturated queue draining.
    rate: float = 0.0
    # "webhook": every process receives, behind the harness's balancer; "polling": one process polls the bot (the
    # holder of the receiver lease) and that one is killed, so another must take polling over.
    mode: str = "webhook"
    kill_after_share: float = 0.5  # SIGKILL one process once this share of all messages was answered
    model_delay_s: float = 0.05
    lease_ttl_s: float = 6.0
    memory: bool = False
    chroma_url: str = ""
    deadline_s: float = 240.0


@dataclass
class ScaleoutResult:
    workers: int
    messages: int
    lost: int
    duplicated: int
    failover_s: float | None
    share_per_worker: list[float]
    throughput: float
    overlapping_turns: int
    elapsed_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        return {"workers": self.workers, "messages": self.messages, "lost": self.lost, "duplicated": self.duplicated,
                "failover_s": self.failover_s, "share_per_worker": self.share_per_worker,
                "throughput": self.throughput, "overlapping_turns": self.overlapping_turns,
                "elapsed_s": self.elapsed_s, **self.extra}


class _Turns:
    """The model behind every process: answers with the keys of the member's messages, after ``delay_s``, and
    counts turns of one member that overlap (there must be none: one turn per member at a time)."""

    def __init__(self, delay_s: float) -> None:
        self._delay = delay_s
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()
        self.overlaps = 0

    def __call__(self, body: dict[str, Any]) -> ScriptedReply:
        content = str((body.get("messages") or [{}])[-1].get("content") or "")
        said = content.split("\n\n")[-1]  # the member's own words; the group transcript comes in blocks before
        keys = KEY.findall(said)
        who = re.search(r"\[m=(\d+)\]", said)
        member = who.group(1) if who else ""
        with self._lock:
            if member and self._running[member]:
                self.overlaps += 1
            self._running[member] += 1
        try:
            time.sleep(self._delay)  # the stand-in's own thread: the turn is "thinking"
        finally:
            with self._lock:
                self._running[member] -= 1
        return ScriptedReply(text="ok " + " ".join(f"[k={k}]" for k in keys) if keys else "ok")


@dataclass
class _Worker:
    index: int
    port: int
    model: ScriptedModelServer
    process: DaemonProcess
    killed_at: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/tg"


async def _count_by_rows(result: ScaleoutResult, fake: FakeTelegram, database_url: str) -> None:
    """Split what the stand-in received by outbox row: two rows answering one message is a duplicate; one row sent
    twice is the send in flight when its process was killed (Telegram has no idempotency key), repeated once."""
    from sqlalchemy import select

    from assistant.storage.db import Database
    from assistant.storage.tables import Message

    db = Database(database_url)
    try:
        async with db.session() as s:
            extras = (await s.execute(select(Message.extra).where(Message.direction == "out",
                                                                  Message.status == "sent"))).scalars().all()
    finally:
        await db.aclose()
    recorded = {str(part) for extra in extras for part in (extra or {}).get("parts", [])}
    sent = fake.sent
    answers = Counter(int(k) for m in sent if str(m.message_id) in recorded for k in KEY.findall(m.text))
    result.duplicated = sum(1 for n in answers.values() if n > 1)
    orphans = [m for m in sent if str(m.message_id) not in recorded]
    result.extra["repeated_in_flight"] = len(orphans)
    killed_at = result.extra.pop("killed_at", None)
    if killed_at is not None:
        # Sent before the kill but never recorded: only sends in flight at the kill may be that.
        result.extra["unrecorded_before_kill"] = sum(1 for m in orphans if m.received_at <= killed_at)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_scaleout(plan: ScaleoutPlan, workdir: Path, database_url: str, *, say: Any = None) -> ScaleoutResult:
    members = [(FIRST_USER + i, f"M{i}", FIRST_CHAT - (i % plan.groups)) for i in range(plan.members)]
    chats = sorted({chat for _, _, chat in members})
    turns = _Turns(plan.model_delay_s)
    workers: list[_Worker] = []
    with FakeTelegram() as fake:
        try:
            for n in range(plan.workers):
                model = ScriptedModelServer(responder=turns).start()
                port = _free_port()
                home = workdir / f"worker-{n}"
                config = daemon_config(
                    home, fake, model, allowed_chats=chats, scheduler=False,
                    channels={"telegram": _telegram(fake, plan.mode, port)},
                    storage={"url": database_url, "lease_ttl_s": plan.lease_ttl_s,
                             **({"chroma_url": plan.chroma_url} if plan.chroma_url else {})},
                    memory={"enabled": plan.memory},
                )
                process = DaemonProcess(write_daemon_config(home, config), home, 0)
                workers.append(_Worker(n, port, model, process))
            for worker in workers:
                worker.process.start()
            async with httpx.AsyncClient(timeout=10.0) as client:
                if plan.mode == "polling":
                    victim = await _wait_registered(database_url, workers)
                else:
                    await _wait_listening(client, workers)
                    victim = workers[0]
                result = await _play(plan, fake, workers, members, turns, client, say, victim)
            await _count_by_rows(result, fake, database_url)
            return result
        finally:
            for worker in workers:
                if worker.process.alive():
                    worker.process.stop()
                worker.model.stop()


def _telegram(fake: FakeTelegram, mode: str, port: int) -> dict[str, Any]:
    common = {"enabled": True, "token": fake.token, "base_url": fake.base_url, "base_file_url": fake.base_file_url}
    if mode == "polling":
        return {**common, "mode": "polling", "poll_timeout_s": 1}
    return {**common, "mode": "webhook", "webhook_url": f"http://127.0.0.1:{port}/tg", "webhook_port": port,
            "webhook_secret": SECRET}


async def _wait_registered(database_url: str, workers: list[_Worker]) -> _Worker:
    """Polling: wait until every process is up (its heartbeat row) and one holds the bot; returns that one."""
    from assistant.leases import read_leases, read_workers
    from assistant.storage.db import Database

    db = Database(database_url)
    deadline = time.monotonic() + 90
    try:
        while True:
            for worker in workers:
                if not worker.process.alive():
                    raise RuntimeError(f"worker {worker.index} exited at start:\n{worker.process.log_text()[-3000:]}")
            try:
                alive = {w.pid for w in await read_workers(db) if w.alive}
                holders = [lease.holder for lease in await read_leases(db) if lease.name == "receiver:telegram"]
            except Exception:
                alive, holders = set(), []  # the first process is still creating the tables
            if holders and all(w.process.pid in alive for w in workers):
                pid = int(holders[0].split(":")[-2])
                return next(w for w in workers if w.process.pid == pid)
            if time.monotonic() > deadline:
                raise RuntimeError("the processes did not all start, or none took the bot")
            await asyncio.sleep(0.2)  # a starting process sends no signal of readiness
    finally:
        await db.aclose()


async def _wait_listening(client: httpx.AsyncClient, workers: list[_Worker]) -> None:
    deadline = time.monotonic() + 90
    for worker in workers:
        while True:
            if not worker.process.alive():
                raise RuntimeError(f"worker {worker.index} exited at start:\n{worker.process.log_text()[-3000:]}")
            try:
                await client.get(worker.url)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    log = worker.process.log_text()[-3000:]
                    raise RuntimeError(f"worker {worker.index} never listened:\n{log}") from None
                await asyncio.sleep(0.2)  # a starting process sends no signal of readiness


async def _play(plan: ScaleoutPlan, fake: FakeTelegram, workers: list[_Worker],
                members: list[tuple[int, str, int]], turns: _Turns, client: httpx.AsyncClient,
                say: Any, victim: _Worker) -> ScaleoutResult:
    total = plan.members * plan.messages_per_member
    if plan.messages_per_member % plan.burst:
        raise ValueError("messages_per_member must be a multiple of burst")
    keys = itertools.count(1)
    balancer = itertools.count()
    answered: dict[int, float] = {}  # key -> when its reply reached the stand-in
    asked: dict[int, tuple[int, float]] = {}  # key -> (member index, when it was asked)
    progress = asyncio.Event()
    kill: dict[str, float] = {}
    started = time.perf_counter()

    async def post(update: dict[str, Any]) -> None:
        if plan.mode == "polling":
            fake.push_raw(update)  # Telegram holds it for whichever process polls
            return
        while True:
            live = [w for w in workers if w.killed_at is None]
            worker = live[next(balancer) % len(live)]
            try:
                response = await client.post(worker.url, json=update,
                                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)  # as Telegram does: try again (the balancer picks the next process)

    think_s = plan.members * plan.burst / plan.rate if plan.rate > 0 else 0.0
    rng = random.Random(7)

    async def member(index: int) -> None:
        user, name, chat = members[index]
        pause = rng.uniform(0, think_s)  # members start spread over one think time
        for _ in range(0, plan.messages_per_member, plan.burst):
            if pause:
                await asyncio.sleep(pause)  # the member reads and types: open time between bursts
            pause = rng.uniform(0.5, 1.5) * think_s
            batch = []
            for _ in range(plan.burst):
                key = next(keys)
                update = fake.message_update(chat, "supergroup", user, name,
                                             f"@teamclaw_bot hi [m={index}] [k={key}]", chat_title=f"Group {chat}")
                asked[key] = (index, time.perf_counter())
                batch.append((key, update))
            await asyncio.gather(*(post(update) for _, update in batch))
            while any(key not in answered for key, _ in batch):
                progress.clear()
                await progress.wait()

    async def watch() -> None:
        seen = 0
        while True:
            sent = fake.sent
            for message in sent[seen:]:
                for key in KEY.findall(message.text):
                    answered.setdefault(int(key), message.received_at)
            if len(sent) != seen:
                seen = len(sent)
                progress.set()
            if "at" not in kill and len(answered) >= total * plan.kill_after_share:
                victim.process.kill()
                victim.killed_at = kill["at"] = time.perf_counter()
                if say is not None:
                    say(f"killed worker {victim.index} (SIGKILL) after {len(answered)} of {total} answers")
            await asyncio.sleep(0.02)  # the stand-in is in this process, on other threads: look again shortly

    watcher = asyncio.create_task(watch())
    try:
        async with asyncio.timeout(plan.deadline_s):
            await asyncio.gather(*(member(i) for i in range(plan.members)))
    except TimeoutError:
        pass
    finally:
        elapsed = time.perf_counter() - started
        await asyncio.sleep(1.0)  # a second send of anything would land now
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    sent = fake.sent
    replies = Counter(int(k) for m in sent for k in KEY.findall(m.text))
    turns_per_worker = [len(w.model.requests) for w in workers]
    done = sum(turns_per_worker) or 1
    failover = None
    if "at" in kill:
        # Members waiting at the kill for an answer: how long until they were answered again.
        waiting = [key for key, (_, at) in asked.items() if at <= kill["at"]
                   and (key not in answered or answered[key] > kill["at"])]
        if waiting and all(k in answered for k in waiting):
            failover = round(max(answered[k] for k in waiting) - kill["at"], 2)
    return ScaleoutResult(
        workers=plan.workers, messages=len(asked), lost=sum(1 for k in asked if k not in replies),
        duplicated=sum(1 for n in replies.values() if n > 1), failover_s=failover,
        share_per_worker=[round(n / done, 3) for n in turns_per_worker],
        throughput=round(len(answered) / elapsed, 1), overlapping_turns=turns.overlaps,
        elapsed_s=round(elapsed, 1),
        extra={"replies_sent": len(sent), "killed_worker": victim.index,
               "killed_worker_turns": turns_per_worker[victim.index], "killed_at": kill.get("at")},
    )
