"""Chat platform adapters behind one small seam (see channels.base)."""

from __future__ import annotations

from channels.base import Channel, Deliver, Reacts

__all__ = ["Channel", "Deliver", "Reacts"]
