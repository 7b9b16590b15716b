"""Time ranges named in a question ("what did we decide last Tuesday", "上周二我们决定了什么") as UTC bounds.

Covers the common forms in English and Chinese: today, yesterday, the day before yesterday, this/last week,
this/last month, last <weekday>, on <weekday>, 上周X/周X/星期X, N days ago, the last N days. Weeks start on
Monday. Anything not understood leaves the range open: a missed filter costs precision, never an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["TimeRange", "parse_calendar_period", "parse_time_range"]

_WEEKDAYS_EN = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
_WEEKDAYS_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_ZH_NUM = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


@dataclass(frozen=True, slots=True)
class TimeRange:
    since: datetime  # inclusive, UTC
    until: datetime  # exclusive, UTC
    phrase: str  # the words that named it


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _days(start: date, end: date, tz: ZoneInfo, phrase: str) -> TimeRange:
    since = datetime.combine(start, time(), tzinfo=tz).astimezone(UTC)
    until = datetime.combine(end, time(), tzinfo=tz).astimezone(UTC)
    return TimeRange(since, until, phrase)


def _number(raw: str) -> int | None:
    if raw.isdigit():
        return int(raw)
    return _ZH_NUM.get(raw)


def _weekday_in_last_week(today: date, weekday: int) -> date:
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(days=7) + timedelta(days=weekday)


def _most_recent(today: date, weekday: int) -> date:
    back = (today.weekday() - weekday) % 7 or 7
    return today - timedelta(days=back)


def parse_time_range(text: str, now: datetime, timezone: str = "UTC") -> TimeRange | None:
    """The first time range named in ``text``, read in the member's time zone; None when there is none."""
    tz = _zone(timezone)
    today = now.astimezone(tz).date()
    lower = text.lower()
    one = timedelta(days=1)

    m = re.search(r"\b(last|past|previous)\s+(\d+)\s+days?\b|最近\s*(\d+|[一两二三四五六七八九十])\s*天", lower)
    if m:
        n = _number(m.group(2) or m.group(3) or "")
        if n:
            return _days(today - timedelta(days=n), today + one, tz, m.group(0))
    m = re.search(r"\b(\d+)\s+days?\s+ago\b|(\d+|[一两二三四五六七八九十])\s*天前", lower)
    if m:
        n = _number(m.group(1) or m.group(2) or "")
        if n:
            day = today - timedelta(days=n)
            return _days(day, day + one, tz, m.group(0))
    m = re.search(r"\blast\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", lower)
    if m:
        day = _most_recent(today, _WEEKDAYS_EN[m.group(1)])
        return _days(day, day + one, tz, m.group(0))
    m = re.search(r"上\s*(?:个)?\s*(?:周|星期|礼拜)([一二三四五六日天])", text)
    if m:
        day = _weekday_in_last_week(today, _WEEKDAYS_ZH[m.group(1)])
        return _days(day, day + one, tz, m.group(0))
    m = re.search(r"\bon\s+(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", lower)
    if m:
        day = _most_recent(today, _WEEKDAYS_EN[m.group(1)])
        return _days(day, day + one, tz, m.group(0))
    m = re.search(r"(?:这|本)?(?:周|星期|礼拜)([一二三四五六日天])", text)
    if m:
        day = _most_recent(today + one, _WEEKDAYS_ZH[m.group(1)])
        return _days(day, day + one, tz, m.group(0))
    if re.search(r"day before yesterday|前天", lower):
        return _days(today - 2 * one, today - one, tz, "day before yesterday")
    if re.search(r"\byesterday\b|昨天|昨日", lower):
        return _days(today - one, today, tz, "yesterday")
    if re.search(r"\btoday\b|今天|今日", lower):
        return _days(today, today + one, tz, "today")
    monday = today - timedelta(days=today.weekday())
    if re.search(r"\blast week\b|上周|上个?星期|上个?礼拜", lower):
        return _days(monday - 7 * one, monday, tz, "last week")
    if re.search(r"\bthis week\b|这周|本周|这个星期", lower):
        return _days(monday, monday + 7 * one, tz, "this week")
    first = today.replace(day=1)
    if re.search(r"\blast month\b|上个月|上月", lower):
        prev = (first - one).replace(day=1)
        return _days(prev, first, tz, "last month")
    if re.search(r"\bthis month\b|这个月|本月", lower):
        nxt = (first + timedelta(days=32)).replace(day=1)
        return _days(first, nxt, tz, "this month")
    return None


_MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"])}
_MONTHS.update({m[:3]: i for m, i in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))


def parse_calendar_period(text: str) -> TimeRange | None:
    """A calendar date or period written out in ``text`` ("in June 2024", "on 3 May 2024", "May 3, 2024",
    "2024-05-03", "2024年5月"), in UTC; None when there is none. Unlike ``parse_time_range`` it needs no clock."""
    lower = text.lower()
    m = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", lower)
    day: date | None = None
    if m:
        day = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if day is None:
        m = re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?,?\s+(\d{{4}})\b", lower)
        if m:
            day = _safe_date(int(m.group(3)), _MONTHS[m.group(2)], int(m.group(1)))
    if day is None:
        m = re.search(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", lower)
        if m:
            day = _safe_date(int(m.group(3)), _MONTHS[m.group(1)], int(m.group(2)))
    if day is None:
        m = re.search(r"(\d{4})年(\d{1,2})月(\d{1,2})[日号]", text)
        if m:
            day = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if day is not None:
        return _days(day, day + timedelta(days=1), ZoneInfo("UTC"), day.isoformat())
    m = re.search(rf"\b({_MONTH_RE})\.?,?\s+(?:of\s+)?(\d{{4}})\b", lower)
    month = (int(m.group(2)), _MONTHS[m.group(1)]) if m else None
    if month is None:
        zh = re.search(r"(\d{4})年(\d{1,2})月", text)
        month = (int(zh.group(1)), int(zh.group(2))) if zh and 1 <= int(zh.group(2)) <= 12 else None
    if month is not None:
        first = date(month[0], month[1], 1)
        nxt = (first + timedelta(days=32)).replace(day=1)
        return _days(first, nxt, ZoneInfo("UTC"), first.strftime("%Y-%m"))
    m = re.search(r"\b(?:in|during)\s+(\d{4})\b|(\d{4})年", lower)
    if m:
        year = int(m.group(1) or m.group(2))
        if 1900 <= year <= 2200:
            return _days(date(year, 1, 1), date(year + 1, 1, 1), ZoneInfo("UTC"), str(year))
    return None


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
