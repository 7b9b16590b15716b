"""Routing benchmark on the labelled set: privacy recall and precision, routing (difficulty) accuracy, per-call
routing latency, and the cost of the routed plan against sending everything to the strongest cloud model.

Nothing is sent anywhere: the router's ``decide`` is the whole per-call decision (detectors, difficulty, model
choice) without the optional local second opinion. Latency is measured three ways: the message alone, a full
agent-sized request (system prompt + 20 history messages + the message) with a cold detector cache, and the same
with a warm cache (the history was scanned on an earlier step, as happens inside a turn).
Run: ``python -m tests.bench.bench_routing [--set tests/data/routing_set.jsonl] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

from assistant.config import Config, ModelConfig, load_config
from assistant.context import DEFAULT_INSTRUCTIONS, DEFAULT_PERSONA
from assistant.difficulty import estimate_tokens
from assistant.providers.base import ChatMessage, ModelRequest
from assistant.router import Route, Router
from assistant.storage.db import Database
from tests.bench.common import bench_home, percentile, print_figures

DEFAULT_SET = Path(__file__).resolve().parents[1] / "data" / "routing_set.jsonl"
NOWHERE = "http://127.0.0.1:9/v1"
# A typical team setup, priced per million tokens: a 7B model on the team's machine, a mid cloud model and a
# frontier one.
MODELS: dict[str, Any] = {
    "local": {"provider": "openai", "base_url": NOWHERE, "model": "qwen2.5-7b-instruct", "location": "local",
              "tier": 1, "abilities": ["tools", "json"]},
    "cloud-mid": {"provider": "openai", "base_url": NOWHERE, "model": "mid", "tier": 2, "price_input": 0.4,
                  "price_cached_input": 0.1, "price_output": 1.6, "abilities": ["tools", "json", "vision"]},
    "cloud-strong": {"provider": "anthropic", "base_url": NOWHERE, "model": "strong", "tier": 3,
                     "price_input": 3.0, "price_cached_input": 0.3, "price_output": 15.0,
                     "abilities": ["tools", "json", "vision", "long_context"], "context_window": 200_000},
}
# Answer lengths assumed for the cost comparison.
OUTPUT_TOKENS = {"easy": 150, "hard": 600}
SKILLS_INDEX = "\n".join(f"- skill_{i}: how the team handles topic {i}, with steps and examples" for i in range(20))


def _load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _cost(model: ModelConfig, tokens_in: int, tokens_out: int) -> float:
    return (tokens_in * model.price_input + tokens_out * model.price_output) / 1_000_000


def _full_request(text: str, history: list[str]) -> ModelRequest:
    system = "\n\n".join([DEFAULT_PERSONA, "## Instructions\n" + DEFAULT_INSTRUCTIONS, "## Skills\n" + SKILLS_INDEX])
    messages = [ChatMessage("system", system)]
    for i, said in enumerate(history):
        messages.append(ChatMessage("user" if i % 2 == 0 else "assistant", said))
    messages.append(ChatMessage("user", f"[Mon 2024-03-18 09:00 Asia/Shanghai] Alice: {text}"))
    return ModelRequest(messages=tuple(messages))


def _timed(router: Router, request: ModelRequest) -> tuple[Route, float]:
    started = time.perf_counter()
    route = router.decide(request, role="chat", scope=None)
    return route, (time.perf_counter() - started) * 1000


async def run(set_path: Path) -> dict[str, Any]:
    rows = _load(set_path)
    with bench_home({"models": MODELS}) as config_path:
        config: Config = load_config(config_path)
        db = Database("sqlite+aiosqlite:///:memory:")
        router = Router(config, db)
        models = config.all_models()
        strongest = max((n for n, m in models.items() if m.location == "cloud"), key=lambda n: models[n].tier)
        public_history = [r["text"] for r in rows if not r["private"]][:20]
        tp = fp = fn = tn = right = leaks = 0
        message_ms: list[float] = []
        cold_ms: list[float] = []
        warm_ms: list[float] = []
        routed_cost = baseline_cost = 0.0
        by_model: dict[str, int] = {}
        misses: list[str] = []
        for row in rows:
            text = str(row["text"])
            route, ms = _timed(router, ModelRequest(messages=(ChatMessage("user", text),)))
            message_ms.append(ms)
            fresh = Router(config, db)  # empty detector cache: every history message is scanned
            request = _full_request(text, public_history)
            _, cold = _timed(fresh, request)
            cold_ms.append(cold)
            _, warm = _timed(fresh, request)
            warm_ms.append(warm)
            predicted, actual = route.private, bool(row["private"])
            tp += predicted and actual
            fp += predicted and not actual
            fn += actual and not predicted
            tn += not predicted and not actual
            if actual and route.location == "cloud":
                leaks += 1
            if actual and not predicted:
                misses.append(str(row["id"]))
            right += route.difficulty == row["difficulty"]
            by_model[route.model] = by_model.get(route.model, 0) + 1
            tokens_in = sum(estimate_tokens(m.content) for m in request.messages)
            tokens_out = OUTPUT_TOKENS[str(row["difficulty"])]
            routed_cost += _cost(models[route.model], tokens_in, tokens_out)
            baseline_cost += _cost(models[strongest], tokens_in, tokens_out)
        await router.aclose()
        await db.aclose()
    n = len(rows)
    return {
        "messages": n,
        "private (labelled)": tp + fn,
        "privacy recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "privacy precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "missed private ids": misses,
        "private messages routed to cloud": leaks,
        "routing (difficulty) accuracy": round(right / n, 4),
        "routing p50 ms (message only)": round(percentile(message_ms, 50), 3),
        "routing p99 ms (message only)": round(percentile(message_ms, 99), 3),
        "routing p50 ms (full request, cold cache)": round(percentile(cold_ms, 50), 3),
        "routing p99 ms (full request, cold cache)": round(percentile(cold_ms, 99), 3),
        "routing p50 ms (full request, warm cache)": round(percentile(warm_ms, 50), 3),
        "routing p99 ms (full request, warm cache)": round(percentile(warm_ms, 99), 3),
        "routed to": by_model,
        "cost routed": round(routed_cost, 4),
        f"cost all to {strongest}": round(baseline_cost, 4),
        "cost saving": f"{1 - routed_cost / baseline_cost:.1%}" if baseline_cost else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--set", type=Path, default=DEFAULT_SET, help="labelled JSON lines (id, text, private, "
                                                                     "difficulty)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    figures = asyncio.run(run(args.set))
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        print_figures("routing benchmark", figures)


if __name__ == "__main__":
    main()
