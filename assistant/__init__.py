"""teamclaw: a self-hosted, always-on AI assistant for a team."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
