"""Channel benchmark: 100 members in 10 groups talking to the real daemon through the stand-in platforms
(Telegram over python-telegram-bot long polling; Feishu over the signed, encrypted webhook and lark-oapi),
with a model stand-in that answers at once.

Prints replies/s under an open-loop offered rate and for a saturation burst (every member at once), end-to-end
overhead p50/p99 excluding model time (platform receipt of the member's message to platform receipt of the
reply, minus the model call's own latency from ``model_calls``), and two correctness counts: cross-member
leaks (a member's unique code word in the session history of another member's model request) and duplicates
(replies per asking message beyond one).
Run: ``python -m tests.bench.bench_channels [--members 100] [--groups 10] [--rate 20] [--duration 10]
[--feishu-rate 10] [--skip-feishu] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from assistant.daemon import App
from assistant.storage.tables import Identity, ModelCall
from tests.bench.common import RssSampler, percentile, print_figures
from tests.standins.group_world import (
    GroupFeishu,
    GroupTelegram,
    feishu_section,
    group_config,
    pusher_for,
    start_app,
    telegram_section,
    turn_requests,
)
from tests.standins.model_server import ScriptedModelServer

REPLY_TIMEOUT_S = 180.0
# Feishu redelivers an event that was not acknowledged within 3 s (after about 15 s, then minutes, hours); the
# pusher here redelivers after this much, so that a busy moment costs seconds instead of a quarter minute.
REDELIVER_AFTER_S = 1.0
REDELIVERIES = 5
TELEGRAM_GROUP_BASE = -1009000000000
AGENT = {"burst_window_ms": 0, "max_concurrent_turns": 64}


@dataclass
class _Member:
    index: int
    name: str
    group: int
    code_word: str
    # (platform message id, when it was sent, whether it was part of the burst)
    asked: list[tuple[str, float, bool]] = field(default_factory=list)


def _members(count: int, groups: int) -> list[_Member]:
    return [_Member(i, f"m{i:03d}", i % groups, f"cw{i:03d}{secrets.token_hex(3)}") for i in range(count)]


Say = Callable[[_Member, str], Awaitable[str]]


async def _drive(members: list[_Member], say: Say, rate: float, duration_s: float,
                 wait_replies: Callable[[int], Awaitable[None]]) -> tuple[float, float, int]:
    """Open loop at ``rate`` (round-robin over members), then a burst of every member at once.
    Returns (open-loop seconds, burst seconds, messages sent)."""
    total = int(rate * duration_s)
    tasks: list[asyncio.Task[str]] = []

    async def one(member: _Member, k: int) -> str:
        sent = time.monotonic()
        message_id = await say(member, f"note my code word {member.code_word} (message {k})")
        member.asked.append((message_id, sent, k >= total))
        return message_id

    start = time.monotonic()
    for k in range(total):
        await asyncio.sleep(max(0.0, start + k / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(members[k % len(members)], k)))
    await asyncio.gather(*tasks)
    await wait_replies(total)
    load_s = time.monotonic() - start
    burst_start = time.monotonic()
    await asyncio.gather(*(one(m, total + m.index) for m in members))
    await wait_replies(total + len(members))
    return load_s, time.monotonic() - burst_start, total + len(members)


async def _model_ms_by_member(app: App, channel: str) -> dict[str, list[float]]:
    """Each member's chat-call latencies in order (members' names are their platform user ids' display)."""
    async with app.services.db.session() as s:
        query = select(ModelCall).where(ModelCall.role == "chat").order_by(ModelCall.id)
        calls = (await s.execute(query)).scalars()
        by_member: dict[int, list[float]] = {}
        for call in calls:
            by_member.setdefault(call.member_id or -1, []).append(call.latency_ms)
        idents = (await s.execute(select(Identity).where(Identity.channel == channel))).scalars().all()
        return {i.display_name: by_member.get(i.member_id, []) for i in idents}


def _figures(members: list[_Member], sent_at: dict[str, float], replies: Counter[str],
             model_ms: dict[str, list[float]], model: ScriptedModelServer, load_s: float, burst_s: float,
             total: int, open_loop: int, rate: float) -> dict[str, Any]:
    overhead: list[float] = []
    end_to_end: list[float] = []
    burst_end_to_end: list[float] = []
    model_all: list[float] = []
    for member in members:
        calls = model_ms.get(member.name, [])
        model_all += calls
        # A member's messages are seconds apart, so their turns (and model calls) come in the same order.
        for (message_id, asked_at, in_burst), model_latency in zip(member.asked, calls, strict=False):
            if message_id not in sent_at:
                continue
            e2e = (sent_at[message_id] - asked_at) * 1000
            if in_burst:
                burst_end_to_end.append(e2e)
            else:
                end_to_end.append(e2e)
                overhead.append(e2e - model_latency)
    words = {m.name: m.code_word for m in members}
    leaks = own_seen = 0
    turns = turn_requests(model)
    for turn in turns:
        history = turn.history_text
        leaks += sum(1 for name, word in words.items() if name != turn.speaker and word in history)
        own_seen += words.get(turn.speaker, "\0") in history
    asked_ids = {mid for m in members for mid, _, _ in m.asked}
    duplicates = sum(n - 1 for n in replies.values() if n > 1)
    unanswered = len(asked_ids - set(replies))
    return {
        "members": len(members), "messages": total, "offered_rate_msgs_per_s": rate,
        "open_loop_replies_per_s": open_loop / load_s,
        "burst_replies_per_s": len(members) / burst_s,
        "open_loop_end_to_end_p50_ms": percentile(end_to_end, 50),
        "open_loop_overhead_p50_ms": percentile(overhead, 50),
        "open_loop_overhead_p99_ms": percentile(overhead, 99),
        "model_call_p50_ms": percentile(model_all, 50),
        "burst_end_to_end_p50_ms": percentile(burst_end_to_end, 50),
        "burst_end_to_end_p99_ms": percentile(burst_end_to_end, 99),
        "model_turns": len(turns),
        "own_code_word_in_own_history": own_seen,
        "cross_member_leaks": leaks,
        "duplicate_replies": duplicates,
        "unanswered": unanswered,
    }


async def run_telegram(count: int, groups: int, rate: float, duration_s: float) -> dict[str, Any]:
    members = _members(count, groups)
    rss = RssSampler()
    with GroupTelegram() as tg, ScriptedModelServer() as model, tempfile.TemporaryDirectory() as tmp:
        config = group_config(Path(tmp) / "home", model,
                              telegram=telegram_section(tg, poll_timeout_s=30),
                              allowed_chats=[f"telegram:{TELEGRAM_GROUP_BASE - g}" for g in range(groups)],
                              agent=AGENT)
        async with start_app(config) as app:

            async def say(member: _Member, text: str) -> str:
                chat = TELEGRAM_GROUP_BASE - member.group
                return str(tg.say(chat, 10_000 + member.index, member.name, text))

            async def wait_replies(n: int) -> None:
                await tg.wait_until(lambda: len(tg.sent) >= n, f"{n} replies", REPLY_TIMEOUT_S)

            async with rss.running():
                load_s, burst_s, total = await _drive(members, say, rate, duration_s, wait_replies)
            model_ms = await _model_ms_by_member(app, "telegram")
        sent_at = {str(s.reply_to_message_id): tg.sent_times[s.message_id] for s in tg.sent}
        replies = Counter(str(s.reply_to_message_id) for s in tg.sent)
        figures = _figures(members, sent_at, replies, model_ms, model, load_s, burst_s, total,
                           int(rate * duration_s), rate)
    figures["peak_rss_mb"] = rss.peak_mb
    return figures


async def run_feishu(count: int, groups: int, rate: float, duration_s: float) -> dict[str, Any]:
    members = _members(count, groups)
    rss = RssSampler()
    with GroupFeishu() as fs, ScriptedModelServer() as model, tempfile.TemporaryDirectory() as tmp:
        for member in members:
            fs.add_user(f"ou_{member.name}", member.name)
        config = group_config(Path(tmp) / "home", model, feishu=feishu_section(fs),
                              allowed_chats=[f"feishu:oc_g{g}" for g in range(groups)], agent=AGENT)
        redelivered: list[int] = []
        async with start_app(config) as app:
            pusher = pusher_for(app, fs)

            async def say(member: _Member, text: str) -> str:
                body = pusher.message_event(chat_id=f"oc_g{member.group}", sender=f"ou_{member.name}",
                                            text=f"@_user_1 {text}", mentions=[(fs.bot_open_id, fs.bot_name)])
                for attempt in range(REDELIVERIES + 1):
                    answer = await pusher.push(body)
                    if answer.status_code == 200:
                        return str(body["event"]["message"]["message_id"])
                    redelivered.append(answer.status_code)
                    await asyncio.sleep(REDELIVER_AFTER_S * (attempt + 1))
                raise RuntimeError(f"webhook refused an event {REDELIVERIES + 1} times: {answer.status_code}")

            async def wait_replies(n: int) -> None:
                await fs.wait_until(lambda: len(fs.sent) >= n, f"{n} replies", REPLY_TIMEOUT_S)

            async with rss.running():
                load_s, burst_s, total = await _drive(members, say, rate, duration_s, wait_replies)
            model_ms = await _model_ms_by_member(app, "feishu")
        sent_at = {str(s.reply_to): fs.sent_times[s.message_id] for s in fs.sent}
        replies = Counter(str(s.reply_to) for s in fs.sent)
        figures = _figures(members, sent_at, replies, model_ms, model, load_s, burst_s, total,
                           int(rate * duration_s), rate)
    figures["webhook_not_acknowledged_then_redelivered"] = len(redelivered)
    figures["peak_rss_mb"] = rss.peak_mb
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--rate", type=float, default=20.0, help="offered messages per second (Telegram)")
    parser.add_argument("--feishu-rate", type=float, default=10.0,
                        help="offered messages per second (Feishu: 5 requests/s per group is the platform "
                             "limit, and a turn there costs three: reaction on, reply, reaction off)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of offered load")
    parser.add_argument("--skip-feishu", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = {"telegram": asyncio.run(run_telegram(args.members, args.groups, args.rate, args.duration))}
    if not args.skip_feishu:
        figures["feishu"] = asyncio.run(run_feishu(args.members, args.groups, args.feishu_rate,
                                                   args.duration))
    if args.json:
        print(json.dumps(figures))
    else:
        for name, values in figures.items():
            print_figures(f"channel run: {name}", values)
    return figures


if __name__ == "__main__":
    main()
