"""The bundled model's runtime (llama-cpp-python) built in the background, so a first start chats at once.

llama-cpp-python ships only as source on the package index: building it takes about 13 minutes on 2 cores.
``scripts/start.sh`` starts that build here, detached, and opens the chat right away; plain-word commands work
meanwhile, a message for the model gets a one-line note instead, and the in-process provider picks the runtime up
on its first use after the build ends. The build's state lives in a small JSON file inside the environment it
installs into (``sys.prefix``), beside its log, so any process of that environment can read it.

    python -m assistant.providers.local_build needed   # exit 0 when the bundled model answers (no model set up)
    python -m assistant.providers.local_build start    # start the build unless the runtime is there
    python -m assistant.providers.local_build status   # one line: ready / building (N min left) / failed
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from assistant.pids import pid_alive

__all__ = ["BuildState", "build_state", "runtime_ready", "start_build"]

STATE_FILE = "teamclaw-local-build.json"
RUNTIME_REQUIREMENT = "llama-cpp-python>=0.3.0"
# Measured: 13 min on 2 cores with nothing else running; the build scales with cores.
BUILD_CORE_MINUTES = 26.0
BuildPhase = Literal["ready", "building", "failed", "absent"]


@dataclass(frozen=True, slots=True)
class BuildState:
    phase: BuildPhase
    minutes_left: int = 0
    log: str = ""

    def line(self) -> str:
        if self.phase == "ready":
            return "the bundled model's runtime is installed"
        if self.phase == "building":
            return (f"the bundled model is still being built (about {self.minutes_left} min left); "
                    "plain-word commands work now")
        if self.phase == "failed":
            return f"building the bundled model failed (see {self.log}); add a model with `teamclaw onboard`"
        return "the bundled model is not installed: run ./scripts/start.sh, or add a model with `teamclaw onboard`"


def runtime_ready() -> bool:
    """Whether llama-cpp-python can be imported now (looked up afresh: a build may have ended since start)."""
    if importlib.util.find_spec("llama_cpp") is not None:
        return True
    importlib.invalidate_caches()
    return importlib.util.find_spec("llama_cpp") is not None


def _state_path(prefix: Path | None) -> Path:
    return (prefix or Path(sys.prefix)) / STATE_FILE


def build_state(prefix: Path | None = None, *, ready: Callable[[], bool] = runtime_ready) -> BuildState:
    """The runtime's state in the environment at ``prefix`` (default: this one); ``ready`` says whether it imports."""
    path = _state_path(prefix)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return BuildState("ready" if ready() else "absent")
    log = str(data.get("log", ""))
    exit_file = Path(str(data.get("exit_file", "")))
    if exit_file.is_file():
        code = exit_file.read_text(encoding="utf-8").strip()
        return BuildState("ready", log=log) if code == "0" and ready() else BuildState("failed", log=log)
    if pid_alive(int(data.get("pid", 0) or 0)):
        expected = BUILD_CORE_MINUTES / max(1, int(data.get("cpus", 1) or 1))
        spent = (time.time() - float(data.get("started", time.time()))) / 60
        return BuildState("building", minutes_left=max(1, round(expected - spent)), log=log)
    return BuildState("ready", log=log) if ready() else BuildState("failed", log=log)


def _cmake_args() -> str:
    # A portable build: the native one can use CPU instructions (AMX) that crash on some machines.
    if platform.machine() in ("x86_64", "AMD64"):
        return "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
    return "-DGGML_NATIVE=OFF"  # Apple Silicon and other ARM: no x86 flags (Metal stays on on macOS)


def start_build(prefix: Path | None = None, *, python: str = sys.executable,
                ready: Callable[[], bool] = runtime_ready) -> BuildState:
    """Start installing the runtime into the environment of ``python``, detached from this process."""
    state = build_state(prefix, ready=ready)
    if state.phase in ("ready", "building"):
        return state
    folder = prefix or Path(sys.prefix)
    log = folder / "teamclaw-local-build.log"
    exit_file = folder / "teamclaw-local-build.exit"
    exit_file.unlink(missing_ok=True)
    env = dict(os.environ)
    env.setdefault("CMAKE_ARGS", _cmake_args())
    script = f'"$0" -m pip install "{RUNTIME_REQUIREMENT}" > "$1" 2>&1; echo $? > "$2"'
    with open(os.devnull, "rb") as nothing:
        proc = subprocess.Popen(["sh", "-c", script, python, str(log), str(exit_file)], stdin=nothing,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    record = {"pid": proc.pid, "started": time.time(), "cpus": os.cpu_count() or 1, "log": str(log),
              "exit_file": str(exit_file)}
    _state_path(prefix).write_text(json.dumps(record), encoding="utf-8")
    return build_state(prefix, ready=ready)


def _bundled_answers() -> bool:
    from assistant.config import load_config

    return load_config().only_bundled_model()


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "status"
    if command == "needed":  # exit 0 when the bundled model is the one that answers (no model configured)
        return 0 if _bundled_answers() else 1
    if command == "start":
        state = start_build()
    elif command == "status":
        state = build_state()
    else:
        print("usage: python -m assistant.providers.local_build needed|start|status", file=sys.stderr)
        return 2
    print(state.line())
    return 0 if state.phase in ("ready", "building") else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
