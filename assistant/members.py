"""Who is speaking: platform identities -> members, roles from config, access (allowlists, pairing, linking)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from assistant.config import AccessConfig, RoutingConfig, TeamConfig
from assistant.errors import ScopeError
from assistant.messages import ChatKind, Inbound, MemberScope
from assistant.storage.db import Database
from assistant.storage.tables import Chat, Identity, Member, Pairing, table_of

__all__ = ["Access", "Directory"]

# The console is the terminal of the machine teamclaw runs on: whoever can type there already owns the data.
LOCAL_CHANNELS = frozenset({"console"})
# Tables whose member rows are merged by their owner (memory moves its vectors too).
_MERGED_ELSEWHERE = frozenset({"identities", "memory_profile"})
# Access facts are re-read at least this often, so edits made by another process (the CLI) take effect.
CACHE_TTL_S = 30.0


@dataclass(frozen=True, slots=True)
class Access:
    """The outcome of an access check: a scope to act in, or why not (and a pairing code to offer)."""

    scope: MemberScope | None
    reason: str = ""
    pairing_code: str | None = None


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A member's row, as the access check reads it."""

    id: int
    name: str
    role: str
    allowed: bool
    private: bool
    timezone: str | None


@dataclass(frozen=True, slots=True)
class _MemberInfo:
    member_id: int
    name: str
    role: str
    allowed: bool
    private: bool
    timezone: str | None
    refs: frozenset[str]
    name_seen: str
    fresh_until: float


@dataclass(frozen=True, slots=True)
class _ChatInfo:
    allowed: bool
    private: bool
    title_seen: str
    fresh_until: float


_MEMBERS, _IDENTITIES = table_of(Member), table_of(Identity)
_FIND_MEMBER = (
    select(_MEMBERS.c.id, _MEMBERS.c.name, _MEMBERS.c.role, _MEMBERS.c.allowed, _MEMBERS.c.private,
           _MEMBERS.c.timezone, _IDENTITIES.c.display_name, _IDENTITIES.c.id.label("identity_id"))
    .join_from(_IDENTITIES, _MEMBERS, _IDENTITIES.c.member_id == _MEMBERS.c.id)
    .where(_IDENTITIES.c.channel == bindparam("channel"), _IDENTITIES.c.platform_user_id == bindparam("user"))
)
_MEMBER_REFS = select(_IDENTITIES.c.channel, _IDENTITIES.c.platform_user_id).where(
    _IDENTITIES.c.member_id == bindparam("member"))
_RENAME_IDENTITY = update(_IDENTITIES).where(_IDENTITIES.c.id == bindparam("identity")).values(
    display_name=bindparam("to_name"))
_ADD_MEMBER = insert(_MEMBERS).returning(_MEMBERS.c.id)
_ADD_IDENTITY = insert(_IDENTITIES)


def _ref(channel: str, user_id: str) -> str:
    return f"{channel}:{user_id}"


class Directory:
    def __init__(self, db: Database, team: TeamConfig, access: AccessConfig, routing: RoutingConfig) -> None:
        self._db = db
        self._team = team
        self._access = access
        self._routing = routing
        # Every message asks who is speaking; answering from memory saves three transactions per message.
        self._members: dict[tuple[str, str], _MemberInfo] = {}
        self._chats: dict[tuple[str, str], _ChatInfo] = {}

    def _configured_role(self, refs: set[str]) -> str:
        if refs & set(self._team.owners):
            return "owner"
        if refs & set(self._team.admins):
            return "admin"
        return "member"

    async def member_for(self, channel: str, platform_user_id: str, name: str) -> MemberRecord:
        """The member behind a platform account, created on first contact."""
        return (await self._member_for(channel, platform_user_id, name))[0]

    async def _member_for(self, channel: str, platform_user_id: str, name: str) -> tuple[MemberRecord, set[str]]:
        """The member behind a platform account (created on first contact) and all of their account refs."""
        for _ in range(3):
            try:
                return await self._find_or_add_member(channel, platform_user_id, name)
            except IntegrityError:
                continue  # created concurrently by another message of a new member: read it
        return await self._find_or_add_member(channel, platform_user_id, name)

    async def _find_or_add_member(self, channel: str, platform_user_id: str,
                                  name: str) -> tuple[MemberRecord, set[str]]:
        # One unit of work of prebuilt statements: a burst of first contacts (a team's first morning) runs this
        # once per new member, and the ORM's version cost 3.6 ms of the loop each.
        async with self._db.transaction() as conn:
            found = (await conn.execute(_FIND_MEMBER, {"channel": channel, "user": platform_user_id})).first()
            if found is not None:
                member = MemberRecord(found.id, found.name, found.role, found.allowed, found.private, found.timezone)
                if name and found.display_name != name:
                    await conn.execute(_RENAME_IDENTITY, {"identity": found.identity_id, "to_name": name})
                refs = await conn.execute(_MEMBER_REFS, {"member": member.id})
                return member, {_ref(r.channel, r.platform_user_id) for r in refs}
            role = self._configured_role({_ref(channel, platform_user_id)})
            member_id = (await conn.execute(_ADD_MEMBER, {"name": name or platform_user_id, "role": role}
                                            )).scalar_one()
            await conn.execute(_ADD_IDENTITY, {"member_id": member_id, "channel": channel,
                                               "platform_user_id": platform_user_id, "display_name": name})
        return MemberRecord(member_id, name or platform_user_id, role, False, False, None), \
            {_ref(channel, platform_user_id)}

    async def _chat(self, msg: Inbound) -> Chat:
        for _ in range(3):
            try:
                return await self._get_or_add_chat(msg)
            except IntegrityError:
                continue  # two members wrote in a new group at once: the other one created it
        return await self._get_or_add_chat(msg)

    async def _get_or_add_chat(self, msg: Inbound) -> Chat:
        async with self._db.session() as s:
            chat = (await s.execute(select(Chat).where(Chat.channel == msg.channel,
                                                       Chat.platform_chat_id == msg.chat_id))).scalar_one_or_none()
            if chat is None:
                chat = Chat(channel=msg.channel, platform_chat_id=msg.chat_id, kind=msg.chat_kind.value,
                            title=msg.chat_title or "")
                s.add(chat)
                await s.flush()
            elif msg.chat_title and chat.title != msg.chat_title:
                chat.title = msg.chat_title
            return chat

    async def _member_info(self, msg: Inbound) -> _MemberInfo:
        key = (msg.channel, msg.sender_id)
        cached = self._members.get(key)
        if cached is not None and cached.name_seen == msg.sender_name and time.monotonic() < cached.fresh_until:
            return cached
        member, refs = await self._member_for(msg.channel, msg.sender_id, msg.sender_name)
        info = _MemberInfo(member.id, member.name, member.role, member.allowed, member.private, member.timezone,
                           frozenset(refs), msg.sender_name, time.monotonic() + CACHE_TTL_S)
        self._members[key] = info
        return info

    async def _chat_info(self, msg: Inbound) -> _ChatInfo:
        key = (msg.channel, msg.chat_id)
        cached = self._chats.get(key)
        if cached is not None and cached.title_seen == (msg.chat_title or "") and time.monotonic() < cached.fresh_until:
            return cached
        chat = await self._chat(msg)
        info = _ChatInfo(chat.allowed, chat.private, msg.chat_title or "", time.monotonic() + CACHE_TTL_S)
        self._chats[key] = info
        return info

    def forget_cached(self) -> None:
        """Access changed (allow, pair, link, privacy): the next message reads the tables again."""
        self._members.clear()
        self._chats.clear()

    async def check(self, msg: Inbound) -> Access:
        """Decide once whether and as whom to act on a message. Closed by default."""
        member = await self._member_info(msg)
        refs = set(member.refs)
        role = self._configured_role(refs)
        if role == "member" and member.role in ("owner", "admin"):
            role = member.role
        chat = await self._chat_info(msg)
        chat_ref = _ref(msg.channel, msg.chat_id)
        is_admin = role in ("owner", "admin")
        local = msg.channel in LOCAL_CHANNELS
        member_allowed = (local or is_admin or member.allowed or bool(refs & set(self._access.allowed_members)))
        chat_allowed = local or chat.allowed or chat_ref in self._access.allowed_chats
        private = (member.private or chat.private or chat_ref in self._routing.private_chats
                   or bool(refs & set(self._routing.private_members)))
        scope = MemberScope(
            member_id=member.member_id, member_name=member.name, channel=msg.channel, chat_id=msg.chat_id,
            chat_kind=msg.chat_kind, thread_id=msg.thread_id, timezone=member.timezone or self._team.timezone,
            is_admin=is_admin, private=private,
        )
        if msg.chat_kind is ChatKind.GROUP:
            if chat_allowed and (member_allowed or self._access.group_members_allowed):
                return Access(scope)
            if is_admin:
                return Access(scope, reason="group not yet allowed; an admin can send /allow here")
            return Access(None, reason="group not allowed")
        if member_allowed:
            return Access(scope)
        if not self._access.pairing:
            return Access(None, reason="member not allowed")
        return Access(None, reason="pairing needed", pairing_code=await self._pairing_code(msg))

    async def _pairing_code(self, msg: Inbound) -> str:
        async with self._db.session() as s:
            existing = (await s.execute(select(Pairing).where(
                Pairing.channel == msg.channel, Pairing.platform_user_id == msg.sender_id,
                Pairing.approved.is_(False)))).scalar_one_or_none()
            if existing is not None:
                return existing.code
            code = secrets.token_hex(3).upper()
            s.add(Pairing(code=code, channel=msg.channel, platform_user_id=msg.sender_id,
                          platform_chat_id=msg.chat_id, name=msg.sender_name))
            return code

    async def approve_pairing(self, code: str) -> str:
        async with self._db.session() as s:
            pairing = await s.get(Pairing, code.strip().upper())
            if pairing is None or pairing.approved:
                raise ScopeError(f"no open pairing request with code {code!r}")
            pairing.approved = True
            ident = (await s.execute(select(Identity).where(
                Identity.channel == pairing.channel, Identity.platform_user_id == pairing.platform_user_id)
            )).scalar_one_or_none()
            if ident is None:
                raise ScopeError(f"pairing {code} names an unknown account")
            await s.execute(update(Member).where(Member.id == ident.member_id).values(allowed=True))
            name = pairing.name or pairing.platform_user_id
        self.forget_cached()
        return name

    async def allow_chat(self, channel: str, chat_id: str) -> None:
        async with self._db.session() as s:
            await s.execute(update(Chat).where(Chat.channel == channel, Chat.platform_chat_id == chat_id)
                            .values(allowed=True))
        self.forget_cached()

    async def migrate_chat(self, channel: str, old_chat_id: str, new_chat_id: str) -> None:
        """A group became a supergroup (Telegram): the new id inherits the old one's access and privacy.
        Safe to call twice for one migration."""
        async with self._db.session() as s:
            old = (await s.execute(select(Chat).where(Chat.channel == channel,
                                                      Chat.platform_chat_id == old_chat_id))).scalar_one_or_none()
            new = (await s.execute(select(Chat).where(Chat.channel == channel,
                                                      Chat.platform_chat_id == new_chat_id))).scalar_one_or_none()
            if old is not None:
                old.migrated_to = new_chat_id
            if new is None:
                s.add(Chat(channel=channel, platform_chat_id=new_chat_id, kind="group",
                           title=old.title if old else "", allowed=bool(old and old.allowed),
                           private=bool(old and old.private)))
            elif old is not None:
                new.allowed = new.allowed or old.allowed
                new.private = new.private or old.private
        self.forget_cached()

    async def find(self, ref: str) -> Member | None:
        """A member by "channel:user_id", by member id ("#3") or by name (case-insensitive)."""
        async with self._db.session() as s:
            if ref.startswith("#") and ref[1:].isdigit():
                return await s.get(Member, int(ref[1:]))
            channel, sep, user_id = ref.partition(":")
            if sep:
                ident = (await s.execute(select(Identity).where(
                    Identity.channel == channel, Identity.platform_user_id == user_id))).scalar_one_or_none()
                if ident is not None:
                    return await s.get(Member, ident.member_id)
            name = ref.lstrip("@").lower()
            rows = (await s.execute(select(Member).where(Member.id.in_(select(Identity.member_id))))).scalars().all()
            matches = [m for m in rows if m.name.lower() == name]
            return matches[0] if len(matches) == 1 else None

    async def allow_member(self, ref: str) -> str:
        member = await self.find(ref)
        if member is None:
            raise ScopeError(f"no member {ref!r}; they must write to the bot once first")
        async with self._db.session() as s:
            await s.execute(update(Member).where(Member.id == member.id).values(allowed=True))
        self.forget_cached()
        return member.name

    async def link(self, ref_a: str, ref_b: str) -> tuple[str, int, int | None]:
        """Merge member B into member A: one person, one sub-agent, on every platform. B's identities, sessions,
        messages, jobs and usage become A's and B is removed. Returns A's name, A's id and B's former id (None when
        both refs already named one member); the caller moves B's memory with ``MemoryStore.reassign_member``."""
        a, b = await self.find(ref_a), await self.find(ref_b)
        if a is None or b is None:
            raise ScopeError(f"cannot link {ref_a!r} and {ref_b!r}: both must be known members")
        if a.id == b.id:
            return a.name, a.id, None
        from assistant.storage.schema import full_metadata

        async with self._db.session() as s:
            await s.execute(update(Identity).where(Identity.member_id == b.id).values(member_id=a.id))
            for table in full_metadata().sorted_tables:
                column = table.columns.get("member_id")
                if column is None or table.name in _MERGED_ELSEWHERE:
                    continue
                try:
                    async with s.begin_nested():
                        await s.execute(table.update().where(column == b.id).values(member_id=a.id))
                except IntegrityError:
                    # A keeps its own row where both had one (a per-member counter, say).
                    await s.execute(table.delete().where(column == b.id))
            await s.execute(delete(Member).where(Member.id == b.id))
        self.forget_cached()
        return a.name, a.id, b.id

    async def platform_ids(self, member_id: int, channel: str) -> list[str]:
        async with self._db.session() as s:
            rows = (await s.execute(select(Identity).where(Identity.member_id == member_id,
                                                           Identity.channel == channel))).scalars().all()
        return [r.platform_user_id for r in rows]
