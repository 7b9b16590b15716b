"""What a teamclaw process leaves unimported: httpx's CLI, chromadb's OTLP exporter (built for real when chromadb
asks for one) and the SDK of every channel that is not configured; and what a daemon loads before its channels
start, so its first reply imports nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import local_model, write_config
from tests.standins.model_server import ScriptedModelServer

_PROBE = """
import json, sys
from assistant import lean_imports
lean_imports.apply()
import httpx
import chromadb
from chromadb.telemetry.opentelemetry import OTLPSpanExporter
loaded = {k for k, v in sys.modules.items() if v is not None}
before = sorted(m for m in ("pygments", "rich.syntax", "grpc", "google.protobuf") if m in loaded)
exporter = OTLPSpanExporter(endpoint="http://127.0.0.1:9", insecure=True)
print(json.dumps({"before": before, "exporter": type(exporter).__module__, "grpc_after": "grpc" in sys.modules}))
exporter.shutdown()
"""

_CHANNELS = """
import json, sys
from assistant.config import Config
from assistant.daemon import build_channels
built = build_channels(Config())
print(json.dumps({"built": [c.name for c in built],
                  "sdks": sorted(m for m in ("lark_oapi", "telegram") if m in sys.modules)}))
"""


def _run(code: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_httpx_cli_and_the_otlp_exporter_stay_out_until_used() -> None:
    report = _run(_PROBE)
    assert report["before"] == []
    assert report["exporter"] == "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"  # the real one
    assert report["grpc_after"] is True


def test_no_channel_sdk_is_imported_for_a_channel_not_configured() -> None:
    report = _run(_CHANNELS)
    assert report == {"built": [], "sdks": []}


_FIRST_TURN = """
import asyncio, json, sys
from assistant.config import load_config
from assistant.daemon import App
from channels.console import ConsoleChannel

async def main():
    console = ConsoleChannel()
    async with App(load_config(sys.argv[1]), channels=[console], dashboard=False, status_file=False) as app:
        ready = set(sys.modules)
        specs = len(app.services.tools._specs)
        mid = await console.say("ana", "What did we decide about the release train?", chat="console:ana#one")
        reply = await console.wait_reply(mid, 60)
        print(json.dumps({"reply": reply.text, "specs": specs, "tools": len(app.services.tools.names()),
                          "loaded": sorted(set(sys.modules) - ready)}))

asyncio.run(main())
"""


def test_the_first_turn_after_a_start_loads_nothing_the_start_could_have(tmp_path: Path,
                                                                           model_server: ScriptedModelServer) -> None:
    home = tmp_path / "home"
    cfg = write_config(home, {"models": {"standin": local_model(model_server)}, "memory": {"enabled": True}})
    done = subprocess.run([sys.executable, "-c", _FIRST_TURN, str(cfg)], capture_output=True, text=True,
                          timeout=180, env={**os.environ, "TEAMCLAW_HOME": str(home)}, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["reply"]
    assert report["loaded"] == []  # no module imported on the first reply (the HTTP stack's backend included)
    assert report["specs"] == report["tools"] > 0  # every tool's schema built before the channels started
