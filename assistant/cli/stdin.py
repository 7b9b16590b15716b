"""Standard input for the commands that answer JSON lines (`memory search`, `route --stdin`): read as it arrives."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator

__all__ = ["numbered_lines"]


async def numbered_lines() -> AsyncIterator[tuple[int, str]]:
    """Numbered non-blank stdin lines, read one at a time off the loop (a pipe is answered as it is fed)."""
    number = 0
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        number += 1
        if line.strip():
            yield number, line
