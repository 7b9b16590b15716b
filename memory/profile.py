"""Member profiles ("portraits"): name, role, time zone, language, working hours, style, interests.

Inferred from what the member says about themself; a value the member set with ``/profile set`` is never
overwritten by inference. The profile text is short and stable (sorted keys) so it can sit in a cached prompt.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from assistant.errors import MemoryError_
from assistant.messages import MemberScope, utcnow
from memory.tables import MemoryProfileField
from memory.textproc import has_cjk

__all__ = ["PROFILE_KEYS", "infer_profile", "load_profile", "render_profile", "set_field"]

PROFILE_KEYS = ("name", "role", "timezone", "language", "working_hours", "style", "interests")
_MAX_INTERESTS = 6

_ROLE_RE = re.compile(
    r"\bI(?:'m| am) (?:a|an|the) (?P<x>[\w -]{3,40}?(?:engineer|developer|designer|manager|lead|scientist|analyst|"
    r"writer|researcher|marketer|intern|architect|admin|founder|ceo|cto|pm))\b"
    r"|\bI work as (?:a |an )?(?P<y>[\w -]{3,40})"
    r"|我是(?:一名|一个)?(?P<z>[^\s，。,]{1,10}(?:工程师|设计师|经理|产品|运营|实习生|负责人|架构师))", re.I,
)
_TZ_RE = re.compile(r"\b(?:my )?time ?zone is (?P<x>[A-Za-z_/+-]+)|我的时区是\s*(?P<z>[A-Za-z_/+-]+)", re.I)
_HOURS_RE = re.compile(
    r"\bI work (?:from )?(?P<x>\d{1,2}(?::\d\d)?\s*(?:am|pm)?\s*(?:-|to|–)\s*\d{1,2}(?::\d\d)?\s*(?:am|pm)?)"
    r"|\bmy working hours are (?P<y>[^.]+)|我(?:每天)?(?P<z>\d{1,2}点到\d{1,2}点)上班", re.I,
)
_STYLE_RE = re.compile(
    r"\b(?P<x>keep it short|be brief|short answers|more detail|be detailed|no emojis?|bullet points)\b"
    r"|(?P<z>简短一点|详细一点|不要表情|用要点)", re.I,
)
_INTEREST_RE = re.compile(
    r"\bI(?:'m| am) interested in (?P<x>[^.!?]+)|\bI care about (?P<y>[^.!?]+)|我关心(?P<z>[^。！？]+)", re.I
)


def infer_profile(text: str) -> dict[str, str]:
    """Profile fields a member's own message states about themself."""
    found: dict[str, str] = {}
    for key, pattern in (("role", _ROLE_RE), ("working_hours", _HOURS_RE), ("style", _STYLE_RE),
                         ("interests", _INTEREST_RE)):
        m = pattern.search(text)
        if m:
            value = next(g for g in m.groups() if g)
            found[key] = value.strip().rstrip(".。")
    m = _TZ_RE.search(text)
    if m:
        zone = (m.group("x") or m.group("z") or "").strip()
        try:
            ZoneInfo(zone)
            found["timezone"] = zone
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if len(text.strip()) >= 6:
        found["language"] = "zh" if has_cjk(text) else "en"
    return found


async def load_profile(session: AsyncSession, member_id: int) -> dict[str, MemoryProfileField]:
    rows = await session.scalars(select(MemoryProfileField).where(MemoryProfileField.member_id == member_id))
    return {r.key: r for r in rows.all()}


async def set_field(session: AsyncSession, member_id: int, key: str, value: str, *, source: str) -> bool:
    """Write one field; an inferred value never replaces one the member set. Returns whether it changed."""
    if key not in PROFILE_KEYS:
        raise MemoryError_(f"unknown profile field {key!r}: use one of {', '.join(PROFILE_KEYS)}")
    value = value.strip()[:500]
    current = (await load_profile(session, member_id)).get(key)
    if current is not None and current.source == "member" and source != "member":
        return False
    if key == "interests" and source != "member" and current is not None:
        items = [i.strip() for i in current.value.split(";") if i.strip()]
        if value.lower() in (i.lower() for i in items):
            return False
        value = "; ".join([*items, value][-_MAX_INTERESTS:])
    if current is None:
        session.add(MemoryProfileField(member_id=member_id, key=key, value=value, source=source))
        return True
    if current.value == value and current.source == source:
        return False
    current.value, current.source, current.updated_at = value, source, utcnow()
    return True


def render_profile(scope: MemberScope, fields: dict[str, MemoryProfileField]) -> str:
    """'Profile of Alice: name: Alice; role: backend engineer; ...' in a fixed key order."""
    values = {k: f.value for k, f in fields.items()}
    values.setdefault("name", scope.member_name)
    if "timezone" not in values and scope.timezone and scope.timezone != "UTC":
        values["timezone"] = scope.timezone
    parts = [f"{k}: {values[k]}" for k in PROFILE_KEYS if values.get(k)]
    return f"Profile of {scope.member_name}: " + "; ".join(parts)
