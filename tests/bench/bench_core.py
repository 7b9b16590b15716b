"""Foundation benchmark: N members across M group chats through the whole pipeline (console channel, inbox,
dispatch, agent, router, outbox, SQLite) against a model stand-in that answers instantly.

Prints messages/s, per-message overhead p50/p99 (end-to-end time minus the model call's own time) under an offered
load, the saturation throughput of a burst, idle and peak RSS, cold start to first reply, and prompt tokens per turn
split into the fixed prefix and the variable part.
Run: ``python -m tests.bench.bench_core [--members 50] [--chats 10] [--rate 20] [--duration 10] [--memory]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from typing import Any

from sqlalchemy import select

from assistant.config import load_config
from assistant.context import estimate_tokens
from assistant.daemon import App
from assistant.storage.tables import Member, ModelCall
from channels.console import ConsoleChannel
from tests.bench.common import RssSampler, bench_home, mean, percentile, print_figures
from tests.standins.model_server import ScriptedModelServer

REPLY_TIMEOUT_S = 120.0
P99_TARGET_MS = 50.0


def _config(server: ScriptedModelServer, memory: bool) -> dict[str, Any]:
    return {
        "models": {"standin": {"provider": "openai", "base_url": server.openai_base_url, "model": "instant",
                               "location": "local", "tier": 1, "context_window": 32000}},
        "memory": {"enabled": memory},
        "scheduler": {"enabled": False},
        "heartbeat": {"enabled": False},
        "dashboard": {"enabled": False},
        "agent": {"burst_window_ms": 0, "max_concurrent_turns": 64},
        "logging": {"level": "WARNING"},
    }


def _prompt_split(body: dict[str, Any]) -> tuple[int, int]:
    messages = body["messages"]
    fixed = estimate_tokens(json.dumps(body.get("tools", []), ensure_ascii=False)) + estimate_tokens(
        messages[0]["content"])
    variable = sum(estimate_tokens(str(m.get("content") or "")) for m in messages[1:])
    return fixed, variable


async def run(members: int, chats: int, rate: float, duration_s: float, memory: bool) -> dict[str, Any]:
    """Open loop: ``rate`` messages per second spread round-robin over ``members`` in ``chats`` groups, then a
    closed-loop burst (every member at once) for the saturation throughput."""
    rss = RssSampler()
    with ScriptedModelServer() as server, bench_home(_config(server, memory)) as cfg_path:
        config = load_config(cfg_path)
        console = ConsoleChannel()
        t0 = time.perf_counter()
        async with App(config, channels=[console], scheduler=False, dashboard=False, status_file=False) as app:
            started = time.perf_counter()
            mid = await console.say("warmup", "hello", chat="warmup")
            await console.wait_reply(mid, REPLY_TIMEOUT_S)
            first_reply = time.perf_counter()
            idle_rss = rss.now_mb()
            latencies: dict[str, list[float]] = {}

            async def one(name: str, chat: str, k: int) -> None:
                t = time.perf_counter()
                mid = await console.say(name, f"@bot question {k} from {name}: how is the release going?",
                                        chat=chat, group=True)
                await console.wait_reply(mid, REPLY_TIMEOUT_S)
                latencies.setdefault(name, []).append((time.perf_counter() - t) * 1000)

            total = int(rate * duration_s)
            async with rss.running():
                load_start = time.perf_counter()
                pending = []
                for k in range(total):
                    due = load_start + k / rate
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    i = k % members
                    pending.append(asyncio.create_task(one(f"member{i:03d}", f"group{i % chats}", k)))
                await asyncio.gather(*pending)
                load_s = time.perf_counter() - load_start
                burst_start = time.perf_counter()
                await asyncio.gather(*(one(f"member{i:03d}", f"group{i % chats}", total + i) for i in range(members)))
                burst_s = time.perf_counter() - burst_start
            async with app.services.db.session() as s:
                calls = (await s.execute(select(ModelCall).order_by(ModelCall.id))).scalars().all()
                names = {m.id: m.name for m in (await s.execute(select(Member))).scalars()}
        model_ms: dict[str, list[float]] = {}
        for call in calls:
            model_ms.setdefault(names.get(call.member_id or -1, ""), []).append(call.latency_ms)
        overhead = [lat - model for name, lats in latencies.items()
                    for lat, model in zip(lats[:-1], model_ms.get(name, []), strict=False)]
        burst = [lats[-1] for lats in latencies.values()]
        splits = [_prompt_split(r.body) for r in server.requests[1:]]
    return {
        "members": members, "chats": chats, "memory": memory,
        "offered_rate_msgs_per_s": rate, "messages": total,
        "achieved_msgs_per_s": total / load_s,
        "overhead_p50_ms": percentile(overhead, 50),
        "overhead_p99_ms": percentile(overhead, 99),
        "model_call_p50_ms": percentile([c.latency_ms for c in calls], 50),
        "burst_all_members_at_once_msgs_per_s": members / burst_s,
        "burst_end_to_end_p99_ms": percentile(burst, 99),
        "cold_start_to_first_reply_s": first_reply - t0,
        "start_s": started - t0,
        "idle_rss_mb": idle_rss,
        "peak_rss_mb": rss.peak_mb,
        "prompt_fixed_prefix_tokens": mean([f for f, _ in splits]),
        "prompt_variable_tokens": mean([v for _, v in splits]),
    }


def cli_cold_start() -> float:
    """Wall time of `teamclaw chat -m` in a fresh process against an instant model: imports included."""
    with ScriptedModelServer() as server, bench_home(_config(server, False)) as cfg_path:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "assistant.cli.main", "chat", "--config", str(cfg_path), "-m", "hi"],
                       check=True, capture_output=True, timeout=120)
        return time.perf_counter() - t


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--chats", type=int, default=10)
    parser.add_argument("--rate", type=float, default=20.0, help="offered messages per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of offered load")
    parser.add_argument("--memory", action="store_true", help="with layered memory on (embeddings per turn)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.members, args.chats, args.rate, args.duration, args.memory))
    figures["cli_process_cold_start_s"] = cli_cold_start()
    if args.json:
        print(json.dumps(figures))
    else:
        # The per-message overhead's tail, memory on or off (the memory-on target is set at 10 msg/s).
        print_figures("core pipeline", figures, {"overhead_p99_ms": (P99_TARGET_MS, True)})
    return figures


if __name__ == "__main__":
    main()
