"""What a teamclaw process leaves unimported: httpx's CLI, chromadb's OTLP exporter (built for real when chromadb
asks for one) and the SDK of every channel that is not configured."""

from __future__ import annotations

import json
import subprocess
import sys

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
