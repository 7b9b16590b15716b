"""Storage: SQLAlchemy 2 async over SQLite (WAL) or any other async URL; the source of truth for everything."""

from __future__ import annotations

from assistant.storage.db import Database
from assistant.storage.tables import Base

__all__ = ["Base", "Database"]
