"""Difficulty and needs: signals, tiers per role, the words the estimate reads, and similarity of requests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.difficulty import estimate, estimate_tokens, focus_text, request_signature, similarity
from assistant.providers.base import ChatMessage, ModelRequest, ToolCall

LABELLED = Path(__file__).parent / "data" / "routing_set.jsonl"


def one(text: str) -> ModelRequest:
    return ModelRequest(messages=(ChatMessage("user", text),))


@pytest.mark.parametrize(("text", "signal"), [
    ("写一个Python函数，解析Nginx访问日志，统计每个接口的P99延迟", "code"),
    ("Traceback (most recent call last): KeyError: 'user_id' 帮我看看", "code"),
    ("```go\nvar count int\n```\nwhy?", "code"),
    ("这段SQL为什么这么慢：SELECT * FROM logs WHERE id > 3", "code"),
    ("证明：对任意正整数n，n^3 - n 能被6整除", "math"),
    ("对比一下Kafka、RabbitMQ和Pulsar在我们这个场景下的优缺点", "planning"),
    ("Write a 1500-word RFC proposing we adopt OpenTelemetry", "long-form writing"),
    ("Why does our p95 latency get slow after every deploy?", "debugging"),
])
def test_hard_signals(text: str, signal: str) -> None:
    difficulty = estimate(one(text))
    assert difficulty.hard and signal in difficulty.signals
    assert difficulty.describe().startswith("hard: ")


@pytest.mark.parametrize("text", [
    "早上好，今天站会几点开？", "thanks for the quick fix, Mike!", "remind me to ping Sarah about the design review",
    "周报：本周完成登录模块重构，下周计划接入SSO。帮我润色一下", "what's the plan for lunch?",
])
def test_routine_requests_are_easy(text: str) -> None:
    difficulty = estimate(one(text))
    assert not difficulty.hard and difficulty.tier == 1


def test_many_tools_in_a_turn_plus_code_is_hard_and_says_so() -> None:
    calls = tuple(ToolCall(str(i), name, "{}") for i, name in enumerate(["search", "fetch", "shell"]))
    request = ModelRequest(messages=(
        ChatMessage("user", "fix the failing build script"),
        ChatMessage("assistant", "", tool_calls=calls),
        ChatMessage("tool", "log ...", tool_call_id="2"),
    ))
    assert estimate(request, role="tool_step").describe() == "hard: code + 3 tools"


def test_roles_with_fixed_jobs_and_long_context() -> None:
    assert estimate(one("is anything due?"), role="classification").tier == 0
    assert estimate(one("design the whole architecture"), role="compaction").describe() == "easy: compaction"
    long = estimate(one("word " * 30_000))
    assert long.long_context and "long context" in long.signals


def test_difficulty_reads_the_members_words_not_recalled_context() -> None:
    content = ("<group-transcript>\nBob: 帮我设计一个支持百万级并发的消息推送系统架构\n</group-transcript>\n\n"
               "<memory>\nprefers Rust code\n</memory>\n\n[Mon 2024-03-18 09:00 UTC] Alice: 谢谢")
    request = ModelRequest(messages=(ChatMessage("user", content),))
    assert focus_text(request) == "谢谢"
    assert not estimate(request).hard


def test_token_estimate_counts_cjk_per_character() -> None:
    assert estimate_tokens("你好世界") == 4
    assert estimate_tokens("abcdefgh") == 2


def test_similar_requests_share_most_of_their_signature() -> None:
    a = request_signature("写一个Python函数，解析Nginx访问日志")
    b = request_signature("帮我写一个Python函数解析Nginx的访问日志")
    c = request_signature("周五团建地点定了没")
    assert similarity(a, b) >= 0.5 > similarity(a, c)
    assert all(len(token) == 8 for token in a)  # hashed: the words themselves are never stored


def test_routing_accuracy_on_the_labelled_set() -> None:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    right = sum(1 for r in rows if ("hard" if estimate(one(r["text"])).hard else "easy") == r["difficulty"])
    assert right / len(rows) >= 0.9
