"""Finds a local OpenAI-compatible model server already answering on its usual port, and its best chat model.

Ollama (11434), LM Studio (1234), llama.cpp's server and MLX (8080), MLX's other default (10240) and vLLM (8000)
are asked for their model list on 127.0.0.1 with a short time limit, all at once; a port where nothing listens
costs nothing. ``teamclaw init`` writes what it finds into the config as a ``location = "local"`` model, so a
machine that runs Ollama chats with its model from the first start, with no build of the bundled runtime.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["KNOWN_SERVERS", "FoundServer", "ServerProbe", "best_model", "discover", "model_table"]

PROBE_TIMEOUT_S = 0.8  # a local server answers at once or is not there
HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class ServerProbe:
    name: str  # also the model's name in [models]
    port: int
    path: str  # the model list: Ollama's own /api/tags, else the OpenAI-compatible /v1/models


KNOWN_SERVERS = (
    ServerProbe("ollama", 11434, "/api/tags"),
    ServerProbe("lmstudio", 1234, "/v1/models"),
    ServerProbe("llamacpp", 8080, "/v1/models"),  # llama.cpp's llama-server; mlx_lm.server uses it too
    ServerProbe("mlx", 10240, "/v1/models"),
    ServerProbe("vllm", 8000, "/v1/models"),
)


@dataclass(frozen=True, slots=True)
class FoundServer:
    name: str
    base_url: str  # its OpenAI-compatible root (".../v1")
    models: tuple[str, ...]
    best: str  # the model to use: see ``best_model``


_NOT_CHAT = re.compile(r"embed|bge|e5-|minilm|rerank|whisper|tts|clip|vision-only|moderation|guard", re.I)
_SIZE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*([bm])(?![a-z])", re.I)
_WEAKER = re.compile(r"\bbase\b|-base|coder|math|vl\b|-vl|vision|draft", re.I)
_CHAT_HINT = re.compile(r"instruct|chat|-it\b|:it\b|-it-|qwen|llama3|llama-3|mistral|gemma|phi|deepseek|glm|yi",
                        re.I)
# Beyond this many billion parameters a home machine answers slowly; prefer the largest model up to it.
COMFORT_B = 14.0


def _size_b(name: str, hint: str = "") -> float | None:
    for text in (hint, name):
        m = _SIZE.search(text or "")
        if m:
            value = float(m.group(1))
            return value / 1000 if m.group(2).lower() == "m" else value
    return None


def _score(name: str, size_hint: str = "") -> float:
    if _NOT_CHAT.search(name):
        return -1.0
    size = _size_b(name, size_hint)
    score = 4.0 if size is None else (size if size <= COMFORT_B else COMFORT_B - (size - COMFORT_B) / 4)
    if _WEAKER.search(name):
        score -= 3
    if _CHAT_HINT.search(name):
        score += 1
    return score


def best_model(models: tuple[str, ...], sizes: dict[str, str] | None = None) -> str | None:
    """The best chat model of a server's list: instruct models first, the largest that a small machine still runs
    briskly (up to ``COMFORT_B`` billion parameters); embedding and speech models never. None: none fits."""
    scored = [(_score(m, (sizes or {}).get(m, "")), -i, m) for i, m in enumerate(models)]
    scored = [s for s in scored if s[0] >= 0]
    return max(scored)[2] if scored else None


async def _probe(client: httpx.AsyncClient, probe: ServerProbe, host: str) -> FoundServer | None:
    root = f"http://{host}:{probe.port}"
    try:
        response = await client.get(root + probe.path)
        data: Any = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    sizes: dict[str, str] = {}
    if probe.path == "/api/tags":
        entries = data.get("models", []) if isinstance(data, dict) else []
        names = tuple(str(m["name"]) for m in entries if isinstance(m, dict) and m.get("name"))
        for m in entries:
            if isinstance(m, dict) and isinstance(m.get("details"), dict):
                sizes[str(m.get("name"))] = str(m["details"].get("parameter_size") or "")
    else:
        entries = data.get("data", []) if isinstance(data, dict) else []
        names = tuple(str(m["id"]) for m in entries if isinstance(m, dict) and m.get("id"))
    best = best_model(names, sizes)
    if best is None:
        return None
    return FoundServer(probe.name, f"{root}/v1", names, best)


async def discover(probes: tuple[ServerProbe, ...] = KNOWN_SERVERS, *, host: str = HOST,
                   timeout_s: float = PROBE_TIMEOUT_S) -> list[FoundServer]:
    """The local servers that answer, each with a chat model, in the order of ``probes``."""
    async with httpx.AsyncClient(timeout=timeout_s, trust_env=False) as client:
        found = await asyncio.gather(*(_probe(client, p, host) for p in probes))
    return [f for f in found if f is not None]


def model_table(server: FoundServer) -> dict[str, Any]:
    """The ``[models.NAME]`` table for a found server: local, so private requests may go to it."""
    return {"provider": "openai", "base_url": server.base_url, "model": server.best, "location": "local",
            "tier": 1}
