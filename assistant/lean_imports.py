"""Keep a teamclaw process from importing third-party parts it never runs: httpx's command-line tool and chromadb's
OTLP gRPC trace exporter. Applied once by the entry point, before anything imports httpx or chromadb.

Measured in the idle daemon: httpx imports its CLI (rich's syntax, table and progress modules, pygments) whenever
those are installed, 3.5 MB and 44 modules; chromadb imports the OTLP exporter at start-up for tracing that is off
unless an OpenTelemetry endpoint is configured, and with it grpc and protobuf, 12 MB and 146 modules.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["OTLP_EXPORTER", "apply"]

OTLP_EXPORTER = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"


def _real_otlp_exporter(*args: Any, **kwargs: Any) -> Any:
    """What chromadb gets when it builds the exporter (an OpenTelemetry endpoint is configured): the real module is
    imported in place of the deferral and the real exporter built from the same arguments."""
    if getattr(sys.modules.get(OTLP_EXPORTER), "__deferred__", False):
        del sys.modules[OTLP_EXPORTER]
    return importlib.import_module(OTLP_EXPORTER).OTLPSpanExporter(*args, **kwargs)


def _defer_otlp_exporter() -> None:
    """chromadb only calls ``OTLPSpanExporter(...)`` (in its telemetry set-up, when an endpoint is configured):
    until then a module whose ``OTLPSpanExporter`` builds the real one on call stands in for the real module."""
    if OTLP_EXPORTER in sys.modules:
        return  # imported already (or deferred already): nothing left to save
    deferred = types.ModuleType(OTLP_EXPORTER, "Imported on first use (assistant.lean_imports).")
    deferred.__deferred__ = True  # type: ignore[attr-defined]
    deferred.OTLPSpanExporter = _real_otlp_exporter  # type: ignore[attr-defined]
    sys.modules[OTLP_EXPORTER] = deferred


def apply() -> None:
    """Leave out httpx's CLI (httpx then defines a ``main`` that says the CLI is not installed, as it does without
    its ``cli`` extra) and defer chromadb's OTLP exporter. Idempotent; a part imported already stays as it is."""
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    _defer_otlp_exporter()
