"""Imports every module that declares tables, so ``Base.metadata`` is complete before migrations run."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from assistant.storage.tables import Base

__all__ = ["TABLE_MODULES", "full_metadata"]

# One line per package that owns tables. Order does not matter.
TABLE_MODULES: tuple[str, ...] = (
    "assistant.storage.tables",
    "assistant.scheduler.tables",
    "assistant.heartbeat.tables",
    "assistant.builtin_tools.approvals",
    "memory.tables",
    "assistant.difficulty",
    "assistant.leases",
    "assistant.media.tables",
)


def full_metadata() -> MetaData:
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return Base.metadata
