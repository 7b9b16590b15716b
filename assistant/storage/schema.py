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
    """Every table, as migrations create them on either database."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    _partial_on_postgresql(Base.metadata)
    return Base.metadata


def _partial_on_postgresql(metadata: MetaData) -> None:
    """A partial index is declared with ``sqlite_where`` alone (a ``postgresql_where`` in a table module would load
    the PostgreSQL dialect into every process, SQLite ones included: ~10 ms and 2 MB); here, where schemas are
    built, it gets the same predicate on PostgreSQL."""
    for table in metadata.tables.values():
        for index in table.indexes:
            where = index.dialect_options["sqlite"]["where"]
            if where is not None and index.dialect_options["postgresql"]["where"] is None:
                index.dialect_options["postgresql"]["where"] = where
