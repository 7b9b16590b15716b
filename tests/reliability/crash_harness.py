"""The crash suite's engine: the real daemon under a stream of group messages and due jobs, killed with SIGKILL at
random points and restarted, then one clean run that drains everything, then the checks.

What is checked, and how it is known:
- Lost: every message the stand-in Telegram confirmed (its offset moved past the update) carries a key
  ``[k=N]``; the model stand-in answers with the keys of the messages the turn answered (a burst from one member
  folds into one turn, so one reply may carry several keys). Every key must appear in a reply the database
  recorded as sent.
- Answered twice: no key may appear in two different recorded replies.
- Repeats: Telegram has no idempotency key, so a send that reached the platform just before the kill, but was not
  yet marked sent, goes out again after the restart. Such a send is visible as a message at the stand-in whose id
  no outbound row holds. Each one must be the last send to its chat before a restart, and the same text must go
  to the same chat again after that restart; that is the only kind of repeat allowed, and they are counted.
- Jobs: one-shot reminders are due throughout the run, interval reminders and an agent job tick every few
  seconds. Every ``job_runs`` row is unique per (job, planned time), handed to the outbox once, and sent once;
  each one-shot ran exactly once; the gaps between an interval job's runs are explained by the runs its notes say
  were folded while the daemon was down.
- The database passes ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from assistant.clock import SystemClock
from assistant.config import SchedulerConfig, load_config
from assistant.members import Directory
from assistant.messages import ChatKind, MemberScope, utcnow
from assistant.scheduler import Job, JobBook, JobKind, JobRun, Plan, TriggerSpec
from assistant.storage.db import Database
from assistant.storage.tables import Message, TranscriptEntry
from tests.reliability.daemon_process import DaemonProcess, daemon_config, write_daemon_config
from tests.standins.model_server import ScriptedModelServer, ScriptedReply
from tests.standins.telegram_server import FakeTelegram, SentMessage

__all__ = ["CrashPlan", "CrashReport", "run_crash_suite"]

KEY = re.compile(r"\[k=(\d+)\]")
AGENT_JOB_MARK = "[agent-job]"
FIRST_CHAT = -100_500_000
JOB_CHAT_ONESHOT = -100_600_001
JOB_CHAT_AGENT = -100_600_002
JOB_CHATS_INTERVAL = (-100_600_003, -100_600_004)
JOB_OWNER_ID = 7_000_001
DRAIN_STEP_TIMEOUT_S = 30.0
_EARLIER = re.compile(r"(\d+) earlier run")


@dataclass(frozen=True, slots=True)
class CrashPlan:
    """How hard to shake it. ``kills`` SIGKILLs; between them the daemon lives a random 0..``max_up_s`` seconds
    after it is ready, except a ``startup_kill_share`` of the kills that land while it is still starting."""

    kills: int = 50
    members: int = 30
    chats: int = 6
    rate: float = 20.0  # messages per second offered, whether the daemon is up or not (Telegram keeps them)
    max_up_s: float = 2.0
    startup_kill_share: float = 0.2
    model_delay_s: float = 0.02  # each model call takes this long, so turns are in flight when the kill comes
    oneshot_jobs: int = 12
    interval_s: float = 2.0
    cycle_estimate_s: float = 2.5  # startup + uptime, to spread the one-shot jobs over the run
    seed: int = 1


@dataclass
class CrashReport:
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.violations.append(message)


class _Responder:
    """The model: answers a turn with the keys of the messages it answers; an agent job with a numbered line."""

    def __init__(self, delay_s: float) -> None:
        self._delay = delay_s
        self._jobs = 0

    def __call__(self, body: dict[str, Any]) -> ScriptedReply:
        content = str((body.get("messages") or [{}])[-1].get("content") or "")
        said = content.split("\n\n")[-1]  # the member's own words; the group transcript comes in blocks before
        if AGENT_JOB_MARK in said:
            self._jobs += 1
            return ScriptedReply(text=f"agent-job-ok {self._jobs}", delay_s=self._delay)
        keys = KEY.findall(said)
        return ScriptedReply(text="ok " + " ".join(f"k={k}" for k in keys) if keys else "ok", delay_s=self._delay)


def _members(plan: CrashPlan) -> list[tuple[int, str, int]]:
    """(user id, first name, chat id): each member writes in one group."""
    return [(5_000_000 + i, f"Member{i}", FIRST_CHAT - (i % plan.chats)) for i in range(plan.members)]


class _CountingTelegram(FakeTelegram):
    """The stand-in, noting at each run's first call (getMe) how many messages had been sent by then. A killed
    run's last requests are handled long before the next run starts, so the count splits the sends by run."""

    def __init__(self) -> None:
        super().__init__()
        self.restarts: list[int] = []

    def handle(self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        if method.lower() == "getme":
            self.restarts.append(len(self.sent))
        return super().handle(method, params, files)


class _Load:
    """Pushes keyed messages at ``rate`` until stopped; Telegram holds them while the daemon is down."""

    def __init__(self, fake: FakeTelegram, plan: CrashPlan) -> None:
        self._fake = fake
        self._plan = plan
        self._members = _members(plan)
        self.keys: dict[int, int] = {}  # key -> update id
        self._stop = asyncio.Event()

    async def run(self) -> None:
        rng = random.Random(self._plan.seed)
        started = time.perf_counter()
        key = 0
        while not self._stop.is_set():
            key += 1
            user, name, chat = rng.choice(self._members)
            update = self._fake.push_message(chat, "supergroup", user, name, f"@teamclaw_bot question [k={key}]",
                                             chat_title=f"Team {chat}")
            self.keys[key] = int(update["update_id"])
            # Open loop: the next message is due at a fixed time, however the daemon is doing.
            delay = started + key / self._plan.rate - time.perf_counter()
            if delay > 0:
                try:
                    async with asyncio.timeout(delay):
                        await self._stop.wait()
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._stop.set()


@dataclass(frozen=True, slots=True)
class _Jobs:
    oneshot: dict[int, str]  # job id -> payload
    interval: dict[int, int]  # job id -> chat id
    agent: int
    owner_scopes: dict[int, MemberScope]  # job id -> scope of its owner (to pause it before the final run)


async def _create_jobs(config_path: Path, plan: CrashPlan, fake: FakeTelegram) -> _Jobs:
    """Jobs are made through the scheduler's own API on the daemon's database, before the first start."""
    for chat in (JOB_CHAT_ONESHOT, JOB_CHAT_AGENT, *JOB_CHATS_INTERVAL):
        # The chat must exist at the stand-in; a message that does not address the bot is stored and ignored.
        fake.push_message(chat, "supergroup", JOB_OWNER_ID, "Olga", "morning all", chat_title=f"Jobs {chat}")
    config = load_config(config_path)
    db = Database(config.database_url)
    try:
        await db.migrate()
        directory = Directory(db, config.team, config.access, config.routing)
        owner = await directory.member_for("telegram", str(JOB_OWNER_ID), "Olga")
        book = JobBook(db, SystemClock(), SchedulerConfig(max_runs_per_member_day=10_000_000,
                                                          max_jobs_per_member=1000))
        now = utcnow()

        def scope(chat: int) -> MemberScope:
            return MemberScope(member_id=owner.id, member_name="Olga", channel="telegram", chat_id=str(chat),
                               chat_kind=ChatKind.GROUP)

        def every(seconds: float) -> Plan:
            spec = TriggerSpec("interval", {"seconds": seconds, "start": now.isoformat()})
            return Plan(spec, f"every {seconds:g} s", "UTC", (now + timedelta(seconds=seconds),), "en")

        span = plan.kills * plan.cycle_estimate_s
        oneshot: dict[int, str] = {}
        for i in range(plan.oneshot_jobs):
            run_at = now + timedelta(seconds=span * (i + 1) / (plan.oneshot_jobs + 1))
            once = Plan(TriggerSpec("date", {"run_at": run_at.isoformat()}), "once", "UTC", (run_at,), "en")
            job = await book.create(scope(JOB_CHAT_ONESHOT), once, what=f"once-{i}", kind=JobKind.REMINDER,
                                    owner_platform_id=str(JOB_OWNER_ID))
            oneshot[job.id] = f"once-{i}"
        interval: dict[int, int] = {}
        scopes: dict[int, MemberScope] = {}
        for n, chat in enumerate(JOB_CHATS_INTERVAL):
            job = await book.create(scope(chat), every(plan.interval_s), what=f"tick-{n}", kind=JobKind.REMINDER,
                                    owner_platform_id=str(JOB_OWNER_ID))
            interval[job.id] = chat
            scopes[job.id] = scope(chat)
        agent = await book.create(scope(JOB_CHAT_AGENT), every(plan.interval_s * 1.5),
                                  what=f"{AGENT_JOB_MARK} summarise the day", kind=JobKind.AGENT,
                                  owner_platform_id=str(JOB_OWNER_ID))
        scopes[agent.id] = scope(JOB_CHAT_AGENT)
        return _Jobs(oneshot, interval, agent.id, scopes)
    finally:
        await db.aclose()


async def _pause_recurring(config_path: Path, jobs: _Jobs) -> None:
    """Before the final run: the recurring jobs stop, so 'everything due was delivered' has an end."""
    config = load_config(config_path)
    db = Database(config.database_url)
    try:
        book = JobBook(db, SystemClock(), SchedulerConfig())
        for job_id, scope in jobs.owner_scopes.items():
            await book.change(scope, job_id, "pause")
    finally:
        await db.aclose()


# ---- the run --------------------------------------------------------------------------------------------------

async def run_crash_suite(plan: CrashPlan, workdir: Path, *, say: Any = None) -> CrashReport:
    """Run the whole suite in ``workdir`` (a fresh folder); returns figures and any violated guarantee."""
    report = CrashReport()
    rng = random.Random(plan.seed)
    home = workdir / "home"
    fake = _CountingTelegram()
    with fake, ScriptedModelServer(responder=_Responder(plan.model_delay_s)) as model:
        chats = sorted({chat for _, _, chat in _members(plan)})
        config = daemon_config(home, fake, model,
                               allowed_chats=[*chats, JOB_CHAT_ONESHOT, JOB_CHAT_AGENT, *JOB_CHATS_INTERVAL])
        config_path = write_daemon_config(home, config)
        jobs = await _create_jobs(config_path, plan, fake)
        load = _Load(fake, plan)
        pusher = asyncio.create_task(load.run(), name="crash-load")
        ready_times: list[float] = []
        startup_kills = 0
        chaos_start = time.perf_counter()
        try:
            for n in range(plan.kills):
                daemon = DaemonProcess(config_path, home, n)
                polls = len(fake.poll_offsets)
                daemon.start()
                if ready_times and rng.random() < plan.startup_kill_share:
                    # A kill while it starts: migrations, reading the queue, connecting.
                    await asyncio.sleep(rng.uniform(0.05, statistics.median(ready_times)))
                    if not _has_polled(fake, polls):
                        startup_kills += 1
                else:
                    ready_times.append(await daemon.wait_ready(fake, polls))
                    await asyncio.sleep(rng.uniform(0.0, plan.max_up_s))  # the chaos itself: a random moment
                if not daemon.alive():
                    report.fail(f"run {n} exited on its own before the kill:\n{daemon.log_text()[-3000:]}")
                    break
                daemon.kill()
                if say is not None:
                    say(f"kill {n + 1}/{plan.kills}: {len(load.keys)} messages offered, {len(fake.sent)} sent")
        finally:
            load.stop()
            await pusher
        chaos_s = time.perf_counter() - chaos_start
        await _pause_recurring(config_path, jobs)

        final = DaemonProcess(config_path, home, plan.kills)
        polls = len(fake.poll_offsets)
        final.start()
        ready_times.append(await final.wait_ready(fake, polls))
        drain_start = time.perf_counter()
        db = Database(load_config(config_path).database_url)
        try:
            drained = await _drain(fake, db, load, jobs)
            drain_s = time.perf_counter() - drain_start
            exit_code = final.stop()
            if not drained:
                report.fail("the final run did not deliver everything within the drain timeout")
            if exit_code != 0:
                report.fail(f"the final run's clean stop exited with {exit_code}:\n{final.log_text()[-3000:]}")
            await _check(report, fake, db, load, jobs)
        finally:
            await db.aclose()
        report.figures.update({
            "kills": plan.kills,
            "kills while starting": startup_kills,
            "chaos time s": round(chaos_s, 1),
            "final drain s": round(drain_s, 1),
            "restart to ready p50 s": round(statistics.median(ready_times), 2),
            "restart to ready max s": round(max(ready_times), 2),
            "sent at the stand-in": len(fake.sent),
            "not-started send failures": _count_in_logs(home, "the telegram channel is not started"),
        })
    return report


def _has_polled(fake: FakeTelegram, polls_before: int) -> bool:
    return len(fake.poll_offsets) > polls_before


async def _drain(fake: FakeTelegram, db: Database, load: _Load, jobs: _Jobs) -> bool:
    """Wait (on the stand-in's sends, no polling) until every update is confirmed, every key answered, every
    one-shot job delivered and nothing waits in the outbox or the run book."""
    last_update = max(load.keys.values(), default=0)
    while True:
        if await _everything_done(fake, db, load, jobs, last_update):
            return True
        try:
            await fake.wait_for_sent(len(fake.sent) + 1, timeout=DRAIN_STEP_TIMEOUT_S)
        except TimeoutError:
            return await _everything_done(fake, db, load, jobs, last_update)


async def _everything_done(fake: FakeTelegram, db: Database, load: _Load, jobs: _Jobs, last_update: int) -> bool:
    if fake.confirmed_offset <= last_update or fake.pending_updates:
        return False
    answered = {int(k) for sent in fake.sent for k in re.findall(r"k=(\d+)", sent.text)}
    if not set(load.keys) <= answered:
        return False
    once_sent = sum(1 for sent in fake.sent if sent.chat_id == JOB_CHAT_ONESHOT)
    if once_sent < len(jobs.oneshot):
        return False
    async with db.session() as s:
        waiting_out = (await s.execute(select(func.count()).select_from(Message).where(
            Message.direction == "out", Message.status == "pending"))).scalar_one()
        waiting_in = (await s.execute(select(func.count()).select_from(Message).where(
            Message.direction == "in", Message.status.in_(("received", "processing"))))).scalar_one()
        waiting_runs = (await s.execute(select(func.count()).select_from(JobRun).where(
            (JobRun.delivery_status == "pending") | (JobRun.task_status == "running")))).scalar_one()
        oneshots_due = (await s.execute(select(func.count()).select_from(Job).where(
            Job.id.in_(list(jobs.oneshot)), Job.state == "active"))).scalar_one()
    return waiting_out == 0 and waiting_in == 0 and waiting_runs == 0 and oneshots_due == 0


# ---- the checks -----------------------------------------------------------------------------------------------

async def _check(report: CrashReport, fake: _CountingTelegram, db: Database, load: _Load, jobs: _Jobs) -> None:
    sent = fake.sent
    async with db.session() as s:
        outbound = (await s.execute(select(Message).where(Message.direction == "out"))).scalars().all()
        inbound_states = Counter((await s.execute(select(Message.status).where(
            Message.direction == "in"))).scalars().all())
        runs = list((await s.execute(select(JobRun).order_by(JobRun.job_id, JobRun.planned_at))).scalars())
        job_rows = {j.id: j for j in (await s.execute(select(Job))).scalars().all()}
        user_entries = (await s.execute(select(TranscriptEntry.content).where(
            TranscriptEntry.role == "user"))).scalars().all()

    # Every outbound row was sent; nothing dead-lettered or left waiting.
    out_states = Counter(row.status for row in outbound)
    if set(out_states) - {"sent"}:
        report.fail(f"outbound rows not sent: {dict(out_states)}")
    if set(inbound_states) - {"answered", "ignored"}:
        report.fail(f"inbound rows not finished: {dict(inbound_states)}")
    recorded_ids = {part for row in outbound for part in _parts(row)}
    recorded = [m for m in sent if str(m.message_id) in recorded_ids]
    orphans = [i for i, m in enumerate(sent) if str(m.message_id) not in recorded_ids]

    # Lost and answered twice, from what the database recorded as delivered.
    answered: Counter[int] = Counter(int(k) for m in recorded for k in re.findall(r"k=(\d+)", m.text))
    lost = sorted(set(load.keys) - set(answered))
    twice = sorted(k for k, n in answered.items() if n > 1)
    if lost:
        report.fail(f"{len(lost)} accepted message(s) never answered, e.g. keys {lost[:10]}")
    if twice:
        report.fail(f"{len(twice)} message(s) answered by two different replies, e.g. keys {twice[:10]}")
    if fake.confirmed_offset <= max(load.keys.values(), default=0):
        report.fail("not every pushed update was confirmed by the daemon")

    # Repeats: only the in-flight send of a killed run, repeated after the restart.
    _check_repeats(report, sent, orphans, fake.restarts, recorded_ids)

    # Jobs.
    _check_jobs(report, sent, runs, job_rows, jobs, {row.idempotency_key: row for row in outbound}, recorded_ids)

    async with db.engine.connect() as conn:
        integrity = (await conn.execute(text("PRAGMA integrity_check"))).scalar_one()
        foreign = (await conn.execute(text("PRAGMA foreign_key_check"))).all()
    if integrity != "ok":
        report.fail(f"PRAGMA integrity_check: {integrity}")
    if foreign:
        report.fail(f"PRAGMA foreign_key_check found {len(foreign)} broken reference(s)")

    history_keys: Counter[int] = Counter(int(k) for entry in user_entries for k in KEY.findall(entry))
    report.figures.update({
        "messages accepted": len(load.keys),
        "replies recorded sent": len(recorded),
        "keys answered": len(answered),
        "lost": len(lost),
        "answered twice": len(twice),
        "repeated sends (in flight at a kill)": len(orphans),
        "chats with a repeat": len({sent[i].chat_id for i in orphans}),
        "job runs": len(runs),
        "job runs interrupted by a kill": sum(1 for r in runs if r.note == "interrupted by a restart"),
        "integrity_check": integrity,
        "history entries repeated after a kill": sum(1 for n in history_keys.values() if n > 1),
    })


def _parts(row: Message) -> list[str]:
    parts = [str(p) for p in (row.extra or {}).get("parts", [])]
    return parts or ([row.platform_message_id] if row.platform_message_id else [])


def _check_repeats(report: CrashReport, sent: list[SentMessage], orphans: list[int], boundaries: list[int],
                   recorded_ids: set[str]) -> None:
    per_restart: Counter[tuple[int, int]] = Counter()
    for i in orphans:
        m = sent[i]
        after = [b for b in boundaries if b > i]
        if not after:
            report.fail(f"message {m.message_id} to chat {m.chat_id} reached Telegram but was never recorded, "
                        "and no restart followed it")
            continue
        boundary = after[0]
        later_in_chat = [j for j in range(i + 1, boundary) if sent[j].chat_id == m.chat_id]
        if later_in_chat:
            report.fail(f"unrecorded send {m.message_id} in chat {m.chat_id} was not the chat's last send before "
                        "the restart: the outbox moved on without recording it")
        again = [j for j in range(boundary, len(sent)) if sent[j].chat_id == m.chat_id
                 and sent[j].text == m.text and sent[j].reply_to_message_id == m.reply_to_message_id
                 and str(sent[j].message_id) in recorded_ids]
        if not again:
            report.fail(f"unrecorded send {m.message_id} in chat {m.chat_id} was not sent again after the restart")
        per_restart[(boundary, m.chat_id)] += 1
    over = [key for key, n in per_restart.items() if n > 1]
    if over:
        report.fail(f"more than one repeat per chat and restart: {over[:5]}")


def _check_jobs(report: CrashReport, sent: list[SentMessage], runs: list[JobRun], job_rows: dict[int, Job],
                jobs: _Jobs, by_key: dict[str | None, Message], recorded_ids: set[str]) -> None:
    seen = Counter((r.job_id, r.planned_at) for r in runs)
    if any(n > 1 for n in seen.values()):
        report.fail("a job run was recorded twice for the same planned time")
    for run in runs:
        row = by_key.get(run.idempotency_key)
        if run.delivery_status != "queued" or row is None or row.status != "sent":
            report.fail(f"job run {run.id} (job {run.job_id}) was not delivered: delivery {run.delivery_status}, "
                        f"outbox {row.status if row else 'missing'}")
    runs_by_job: dict[int, list[JobRun]] = defaultdict(list)
    for run in runs:
        runs_by_job[run.job_id].append(run)
    chat_of_run = {run.id: by_key[run.idempotency_key].chat_id if run.idempotency_key in by_key else None
                   for run in runs}
    for job_id, payload in jobs.oneshot.items():
        job_runs = runs_by_job.get(job_id, [])
        delivered = [m for m in sent if m.chat_id == JOB_CHAT_ONESHOT and payload in m.text.split()
                     and str(m.message_id) in recorded_ids]
        if len(job_runs) != 1 or len(delivered) != 1:
            report.fail(f"one-shot job {job_id} ({payload}): {len(job_runs)} run(s), {len(delivered)} delivery(ies)")
        if job_rows[job_id].state != "done":
            report.fail(f"one-shot job {job_id} is {job_rows[job_id].state} after its time")
    for job_id, chat in [*jobs.interval.items(), (jobs.agent, JOB_CHAT_AGENT)]:
        delivered = [m for m in sent if m.chat_id == chat and str(m.message_id) in recorded_ids]
        job_runs = runs_by_job.get(job_id, [])
        if len(delivered) != len(job_runs):
            report.fail(f"job {job_id}: {len(job_runs)} run(s) but {len(delivered)} recorded delivery(ies)")
        if any(chat_of_run[r.id] != str(chat) for r in job_runs):
            report.fail(f"job {job_id}: a run was delivered to another chat")
    for job_id in jobs.interval:
        _check_gaps(report, job_id, runs_by_job.get(job_id, []), job_rows[job_id])


def _check_gaps(report: CrashReport, job_id: int, runs: list[JobRun], job: Job) -> None:
    """Between two runs of an interval job lie exactly the runs the later one's note says were folded."""
    seconds = float(job.trigger_spec["seconds"])
    for before, after in itertools.pairwise(runs):
        steps = (after.planned_at - before.planned_at).total_seconds() / seconds
        folded = int(m.group(1)) if (m := _EARLIER.search(after.note or "")) else 0
        if abs(steps - round(steps)) > 1e-3 or round(steps) != folded + 1:
            report.fail(f"job {job_id}: {steps:.2f} intervals between runs {before.id} and {after.id}, but the "
                        f"note accounts for {folded + 1}: {after.note!r}")


def _count_in_logs(home: Path, needle: str) -> int:
    total = 0
    for path in (home / "logs").glob("teamclaw.log*"):
        total += path.read_text(encoding="utf-8", errors="replace").count(needle)
    return total
