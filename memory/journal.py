"""The daily journal: one short entry per turn, per member (direct chats) or per group (group chats), dated in
the member's time zone. Compaction summaries land here too; consolidation promotes entries by rule."""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from assistant.messages import MemberScope, utcnow
from memory.records import NewRecord

if TYPE_CHECKING:
    from memory.store import MemoryStore

__all__ = ["JOURNAL_KIND", "journal_day", "journal_turn", "write_journal"]

JOURNAL_KIND = "journal"
_USER_CHARS = 600
_REPLY_CHARS = 200


def journal_day(scope: MemberScope) -> str:
    try:
        zone = ZoneInfo(scope.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return utcnow().astimezone(zone).date().isoformat()


async def write_journal(store: MemoryStore, scope: MemberScope, text: str, *, message_id: int | None = None,
                        importance: float = 0.3, speaker: str | None = None, private: bool = False,
                        defer_vectors: bool = False) -> int:
    """One journal entry: the group's journal in a group chat, else (or when ``private``) the member's own."""
    item = NewRecord(
        text=text, kind=JOURNAL_KIND, source_message_id=message_id, speaker=speaker or "",
        speaker_member_id=scope.member_id if speaker else None, day=journal_day(scope), importance=importance,
    )
    place = "group" if scope.group_chat_key is not None and not private else "private"
    ids = await store.remember_many(scope, [item], visibility=place, defer_vectors=defer_vectors)
    return ids[0]


async def journal_turn(store: MemoryStore, scope: MemberScope, user_text: str, reply_text: str,
                       message_id: int | None, *, private: bool = False, defer_vectors: bool = False) -> int:
    """'Alice: <what she said> (assistant: <start of the answer>)' in today's journal of the chat's place; a
    turn that stated something private (a fact saved privately) goes to the member's own journal instead, so
    the group's journal never carries what was asked to be remembered for one member."""
    said = user_text.strip()[:_USER_CHARS]
    answer = " ".join(reply_text.split())[:_REPLY_CHARS]
    entry = f"{scope.member_name}: {said}" + (f" (assistant: {answer})" if answer else "")
    return await write_journal(store, scope, entry, message_id=message_id, speaker=scope.member_name,
                               private=private, defer_vectors=defer_vectors)
