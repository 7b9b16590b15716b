"""The long-lived parts of a running teamclaw, built once by the daemon and passed down (never global)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.clock import Clock
from assistant.config import Config
from assistant.storage.db import Database
from assistant.tools import ToolRegistry

if TYPE_CHECKING:
    from assistant.router import Router

__all__ = ["Services"]


@dataclass
class Services:
    config: Config
    db: Database
    router: Router
    tools: ToolRegistry
    clock: Clock
    # Filled by the parts that own them; None when a part is disabled in config.
    memory: Any = None  # memory.MemoryStore
    scheduler: Any = None  # assistant.scheduler.Scheduler
    skills: Any = None  # assistant.skills.SkillLibrary
    outbox: Any = None  # assistant.outbox.Outbox
    members: Any = None  # assistant.members.Directory
    agents: Any = None  # assistant.agent.Agents
    media: Any = None  # assistant.media.Media: files members send
