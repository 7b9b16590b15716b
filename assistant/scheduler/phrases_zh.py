"""Chinese schedule phrases: "20分钟后", "明天下午3点", "每天早上9点", "工作日9:30", "每周五17:00", "每月第一个周一".

The same rules as the English ones: ask about an hour that could be either half of the day, refuse the past.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, time, timedelta

from assistant.errors import ScheduleError
from assistant.scheduler.triggers import TriggerSpec
from assistant.scheduler.when import WEEKDAY_NAMES, WEEKDAY_TITLES, Build, When

__all__ = ["match", "zh_int"]

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
           "八": 8, "九": 9}
_N = r"(?:\d+|[零〇一二两兩三四五六七八九十]+)"
_WDC = r"[一二三四五六日天1-7]"
_WEEK = r"(?:周|週|星期|礼拜|禮拜)"
_PART = r"凌晨|早上|早晨|清晨|上午|中午|下午|午后|午後|傍晚|晚上|夜里|夜裡|夜晚|早|晚"
_PART_KIND = {"凌晨": "early", "早上": "morning", "早晨": "morning", "清晨": "morning", "上午": "morning",
              "早": "morning", "中午": "noon", "下午": "afternoon", "午后": "afternoon", "午後": "afternoon",
              "傍晚": "evening", "晚上": "evening", "晚": "evening", "夜里": "night", "夜裡": "night",
              "夜晚": "night"}
_MINUTE_ZH = r"(?:[二三四五]?十[一二三四五六七八九]?|[一二三四五六七八九])"

_TIME = re.compile(rf"""\s*[,，]?\s*(?P<dp>{_PART})?\s*
    (?: (?P<h>{_N})\s*(?:点钟?|點鐘?|时|時)\s*
        (?: (?P<half>半) | (?P<q>一刻|三刻) | (?P<m>\d{{1,2}})\s*分?
          | (?P<mz>{_MINUTE_ZH})\s*分 | (?P<mt>{_MINUTE_ZH}) (?=\s|$|[^分])
          | 整 )?
      | (?P<h2>\d{{1,2}})\s*[:：]\s*(?P<m2>\d{{2}}) )""", re.X)
_PART_ONLY = re.compile(rf"\s*(?P<dp>{_PART})")
_DAY = re.compile(rf"""\s*(?:
      (?P<rel>大后天|大後天|今天|今日|明天|明日|后天|後天|今晚|今早|明早|明晚)
    | (?P<nxt>下个?|下個?|这个?|這個?|本)?{_WEEK}(?P<wd>{_WDC})
    | (?P<y>\d{{4}})\s*[-/年]\s*(?P<mo>\d{{1,2}})\s*[-/月]\s*(?P<d>\d{{1,2}})\s*[日号號]?
    | (?P<mo2>{_N})\s*月\s*(?P<d2>{_N})\s*[日号號] )""", re.X)
_RELATIVE = re.compile(rf"""\s*(?:过|過)?\s*(?P<n>{_N})?\s*(?P<half0>半)?\s*[个個]?\s*(?P<half>半)?\s*
    (?P<u>秒钟?|秒鐘?|分钟|分鐘|分|小时|小時|钟头|鐘頭|天|周|週|星期)\s*(?:以后|以後|之后|之後|后|後)""", re.X)
_EVERY = re.compile(rf"""\s*(?:
      (?P<daily>每天|每日|天天)
    | (?P<work>(?:每个?|每個?)?工作日|每?{_WEEK}一(?:至|到|-|~)(?:{_WEEK})?五)
    | (?P<wkend>每个?周末|每個?週末)
    | 每[个個]?{_WEEK}(?P<wds>{_WDC}(?:\s*[、,，和及跟]\s*(?:{_WEEK})?{_WDC})*)
    | 每[个個]?月(?:的)?(?P<ord>第[一二三四五1-5]|最后一|最後一)[个個]?{_WEEK}(?P<owd>{_WDC})
    | 每[个個]?月(?:的)?(?P<dom>{_N})\s*[号日號]
    | 每\s*(?:隔)?\s*(?P<n>{_N})?\s*[个個]?\s*(?P<half>半)?\s*
      (?P<u>秒钟?|秒鐘?|分钟|分鐘|小时|小時|钟头|鐘頭|天|周|週|星期|[个個]月|月) )""", re.X)
_TimeOf = Callable[[], time]  # resolves a written time; raises ScheduleError when it must ask
_UNIT_S = {"秒": 1, "分": 60, "小": 3600, "钟": 3600, "鐘": 3600}


def zh_int(text: str) -> int:
    """'20' / '二十' / '两' / '十五' / '二〇二六' -> int."""
    text = text.strip()
    if text.isdigit():
        return int(text)
    if "十" in text:
        left, _, right = text.partition("十")
        return (_DIGITS[left] if left else 1) * 10 + (_DIGITS[right] if right else 0)
    value = 0
    for ch in text:
        value = value * 10 + _DIGITS[ch]
    return value


def _weekday(ch: str) -> int:
    return 6 if ch in "日天7" else ("一二三四五六".index(ch) if not ch.isdigit() else int(ch) - 1)


def _zh_day_name(wd: int) -> str:
    return "周" + "一二三四五六日"[wd]


def _read_time(text: str, pos: int, when: When, part: str | None) -> tuple[int, _TimeOf] | None:
    """A time of day at ``pos``; returns the end and a resolver (raising on an ambiguous hour)."""
    m = _TIME.match(text, pos)
    if not m:
        alone = _PART_ONLY.match(text, pos)
        if alone:
            said = alone.group(0).strip()

            def ask() -> time:
                raise ScheduleError(f"“{said}”几点？请写上时间，例如“{said}9点”")
            return alone.end(), ask
        return None
    said = m.group(0).strip(" ,，")
    kind = _PART_KIND.get(m.group("dp") or "", part)
    if m.group("h2"):
        hour_text, minute = m.group("h2"), int(m.group("m2"))
    else:
        hour_text = m.group("h")
        minute = 0
        if m.group("half"):
            minute = 30
        elif m.group("q"):
            minute = 15 if m.group("q") == "一刻" else 45
        elif m.group("m"):
            minute = int(m.group("m"))
        elif m.group("mz") or m.group("mt"):
            minute = zh_int(m.group("mz") or m.group("mt"))
    padded = hour_text.isdigit() and len(hour_text) == 2 and hour_text[0] == "0"
    hour = zh_int(hour_text)

    def resolve() -> time:
        return when.hour_minute(hour, minute, meridiem=None, part=kind, padded=padded, said=said)
    return m.end(), resolve


def _optional_time(text: str, pos: int, when: When, part: str | None = None) -> tuple[int, _TimeOf | None]:
    found = _read_time(text, pos, when, part)
    return (found[0], found[1]) if found else (pos, None)


def _at(resolver: _TimeOf | None) -> time | None:
    return resolver() if resolver else None


def _relative(text: str, when: When) -> tuple[int, Build] | None:
    m = _RELATIVE.match(text)
    if not m or not (m.group("n") or m.group("half0")):
        return None
    amount = float(zh_int(m.group("n"))) if m.group("n") else 0.0
    if m.group("half0") or m.group("half"):
        amount += 0.5
    unit = m.group("u")
    if unit[0] in _UNIT_S:
        seconds = amount * _UNIT_S[unit[0]]
    else:
        seconds = amount * (86400 if unit == "天" else 7 * 86400)
    said = m.group(0).strip()
    return m.end(), lambda: when.once_after(timedelta(seconds=seconds), said)


def _day(m: re.Match[str], when: When, at: time | None) -> date:
    today = when.now.date()
    rel = m.group("rel")
    if rel:
        offset = {"今": 0, "明": 1, "后": 2, "後": 2, "大": 3}[rel[0]]
        return today + timedelta(days=offset)
    if m.group("wd"):
        nxt = m.group("nxt") or ""
        day = when.next_weekday(_weekday(m.group("wd")), at, not_today=nxt.startswith("下"))
        if nxt.startswith("下") and (day - today).days < 7 and day.isocalendar()[1] == today.isocalendar()[1]:
            day += timedelta(days=7)  # 下周五 is Friday of next week, even when this week's is still ahead
        return day
    said = m.group(0).strip()
    if m.group("y"):
        return when.calendar_day(int(m.group("y")), int(m.group("mo")), int(m.group("d")), said)
    return when.calendar_day(None, zh_int(m.group("mo2")), zh_int(m.group("d2")), said)


def _one_shot(text: str, when: When) -> tuple[int, Build] | None:
    day_m = _DAY.match(text)
    part = None
    if day_m:
        rel = day_m.group("rel") or ""
        part = "evening" if rel.endswith("晚") else ("morning" if rel.endswith("早") else None)
        pos, resolver = _optional_time(text, day_m.end(), when, part)
    else:
        found = _read_time(text, 0, when, None)
        if not found:
            return None
        pos, resolver = found
    chosen = day_m

    def build() -> tuple[TriggerSpec, str]:
        at = _at(resolver)
        if at is None and part:
            raise ScheduleError(f"“{text[:pos].strip()}”几点？请写上时间，例如“明早8点”")
        day = _day(chosen, when, at) if chosen else when.now.date()
        return when.once_at(day, at)
    return pos, build


def _every(text: str, when: When) -> tuple[int, Build] | None:
    m = _EVERY.match(text)
    if not m:
        return None
    if m.group("u"):
        unit = m.group("u")
        n = float(zh_int(m.group("n"))) if m.group("n") else (0.0 if m.group("half") else 1.0)
        if m.group("half"):
            n += 0.5
        said = m.group(0).strip()
        if unit[0] in _UNIT_S:
            seconds = n * _UNIT_S[unit[0]]
            return m.end(), lambda: when.every_seconds(seconds, said)
        pos, resolver = _optional_time(text, m.end(), when)
        step = int(n)
        if unit in ("天",):
            return pos, lambda: (when.cron(_at(resolver), en="every day", zh="每天") if step == 1 else
                                 when.every_days(step, None, _at(resolver), en=f"every {step} days",
                                                 zh=f"每{step}天"))
        if unit.endswith("月"):
            def monthly() -> tuple[TriggerSpec, str]:
                if step != 1:
                    raise ScheduleError("每隔几个月：请用 cron，例如“cron: 0 9 1 */3 *”")
                return when.cron(_at(resolver), day=str(when.now.day), en=f"every month on day {when.now.day}",
                                 zh=f"每月{when.now.day}日")
            return pos, monthly
        wd = when.now.weekday()

        def weekly() -> tuple[TriggerSpec, str]:
            at = _at(resolver)
            if step == 1:
                return when.cron(at, day_of_week=WEEKDAY_NAMES[wd], en=f"every {WEEKDAY_TITLES[wd]}",
                                 zh=f"每{_zh_day_name(wd)}")
            return when.every_days(7 * step, when.next_weekday(wd, at), at,
                                   en=f"every {step} weeks on {WEEKDAY_TITLES[wd]}",
                                   zh=f"每{step}周的{_zh_day_name(wd)}")
        return pos, weekly
    pos, resolver = _optional_time(text, m.end(), when)
    if m.group("daily"):
        return pos, lambda: when.cron(_at(resolver), en="every day", zh="每天")
    if m.group("work"):
        return pos, lambda: when.cron(_at(resolver), day_of_week="mon-fri", en="every weekday", zh="每个工作日")
    if m.group("wkend"):
        return pos, lambda: when.cron(_at(resolver), day_of_week="sat,sun", en="every weekend day", zh="每个周末")
    if m.group("wds"):
        days = sorted({_weekday(ch) for ch in re.findall(_WDC, m.group("wds"))})
        names = ",".join(WEEKDAY_NAMES[d] for d in days)
        return pos, lambda: when.cron(
            _at(resolver), day_of_week=names, en="every " + ", ".join(WEEKDAY_TITLES[d] for d in days),
            zh="每" + "、".join(_zh_day_name(d) for d in days))
    if m.group("ord"):
        ordinal = m.group("ord")
        nth = "last" if ordinal.startswith("最") else f"{zh_int(ordinal[1:])}"
        nth = {"1": "1st", "2": "2nd", "3": "3rd"}.get(nth, nth if nth == "last" else f"{nth}th")
        wd = _weekday(m.group("owd"))
        return pos, lambda: when.cron(
            _at(resolver), day=f"{nth} {WEEKDAY_NAMES[wd]}",
            en=f"on the {nth} {WEEKDAY_TITLES[wd]} of each month", zh=f"每月{ordinal}个{_zh_day_name(wd)}")
    dom = zh_int(m.group("dom"))
    return pos, lambda: when.cron(_at(resolver), day=str(dom), en=f"every month on day {dom}", zh=f"每月{dom}日")


def match(text: str, when: When) -> tuple[int, Build] | None:
    """The longest Chinese schedule at the start of ``text``."""
    best: tuple[int, Build] | None = None
    for matcher in (_every, _relative, _one_shot):
        found = matcher(text, when)
        if found and (best is None or found[0] > best[0]):
            best = found
    return best
