"""English schedule phrases: "in 20 minutes", "tomorrow at 9", "every weekday at 9:30", "every 2 hours"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta

from assistant.errors import ScheduleError
from assistant.scheduler.triggers import TriggerSpec
from assistant.scheduler.when import WEEKDAY_NAMES, WEEKDAY_TITLES, Build, When

__all__ = ["match"]

_F = re.I | re.X
_NUM_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40,
    "forty-five": 45, "fifty": 50, "ninety": 90, "other": 2,
}
_NUM = r"(?:\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty" \
       r"|thirty|forty-five|forty|fifty|ninety)"
_UNIT_S = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600,
           "hour": 3600, "d": 86400, "day": 86400, "w": 604800, "week": 604800}
_WD = r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?" \
      r"|sun(?:day)?)"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MON = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?" \
       r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_ORDINALS = {"first": "1st", "1st": "1st", "second": "2nd", "2nd": "2nd", "third": "3rd", "3rd": "3rd",
             "fourth": "4th", "4th": "4th", "fifth": "5th", "5th": "5th", "last": "last"}

_TIME = re.compile(r"""\s*,?\s*(?P<at>(?:at|@)\s*)?
    (?: (?P<noon>noon|midday|midnight)
      | (?P<h>\d{1,2}) (?:[:.](?P<m>\d{2}))? (?:\s*(?P<ap>[ap])\.?m\b\.?)? (?![\d:]) )
    (?:\s+(?P<dp>in\s+the\s+morning|in\s+the\s+afternoon|in\s+the\s+evening|at\s+night|tonight))?""", _F)
_DURATION_PART = re.compile(
    rf"\s*(?:and\s+|,\s*)?(?P<n>{_NUM}|half\s+an?)\s*(?P<u>seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h"
    r"|days?|d|weeks?|w)\b", _F)
_IN = re.compile(r"\s*(?:in|after)\s+", _F)
_FROM_NOW = re.compile(r"\s+(?:from\s+now|later)\b", _F)
_DAY = re.compile(rf"""\s*,?\s*(?:on\s+)?
    (?: (?P<today>today) | (?P<tonight>tonight) | (?P<tomorrow>tomorrow|tmrw)
      | (?P<dat>(?:the\s+)?day\s+after\s+tomorrow)
      | (?P<next>next\s+|this\s+)?(?P<wd>{_WD})\b
      | (?P<y>\d{{4}})[-/](?P<mo>\d{{1,2}})[-/](?P<d>\d{{1,2}})\b
      | (?P<mname>{_MON})\.?\s+(?P<md>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s*(?P<my>\d{{4}})\b)?
      | (?P<dm>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mname2>{_MON})\b(?:,?\s*(?P<my2>\d{{4}})\b)? )
    (?:\s+(?P<part>morning|afternoon|evening|night))?""", _F)
_EVERY = re.compile(r"\s*(?:every|each)\s+", _F)
_EVERY_BODY = re.compile(rf"""
    (?: (?P<workday>(?:week\s*|work\s*|business\s+)days?)\b
      | (?P<weekend>weekends?)\b
      | (?P<dayword>day|morning|afternoon|evening|night)\b
      | (?P<ord>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)\s+(?P<owd>{_WD})
        \s+of\s+(?:the|each|every)\s+month\b
      | (?P<other>other\s+)?(?P<wds>{_WD}s?(?:\s*(?:,|and|&|,\s*and)\s*{_WD}s?)*)\b
      | (?:(?P<n>{_NUM}|other)\s+)?
        (?P<u>seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?)\b )""", _F)
_STANDALONE = re.compile(rf"""\s*
    (?: (?P<daily>daily)\b | (?P<hourly>hourly)\b | (?P<weekly>weekly)\b | (?P<monthly>monthly)\b
      | (?:on\s+)?(?P<weekdays>weekdays|workdays)\b | (?:on\s+)?(?P<weekends>weekends)\b
      | on\s+(?P<pwds>{_WD}s(?:\s*(?:,|and|&)\s*{_WD}s)*)\b
      | (?:on\s+)?(?:the\s+)?(?P<ord>first|1st|second|2nd|third|3rd|fourth|4th|fifth|5th|last)\s+(?P<owd>{_WD})
        \s+of\s+(?:each|every|the)\s+month\b
      | (?:on\s+)?(?:the\s+)?(?P<dom>\d{{1,2}})(?:st|nd|rd|th)\s+(?:day\s+)?of\s+(?:each|every|the)\s+month\b )""", _F)
_ON_WEEKDAY = re.compile(rf"\s*,?\s*on\s+(?P<wd>{_WD})s?\b", _F)
_ON_DOM = re.compile(r"\s*,?\s*on\s+(?:the\s+)?(?P<dom>\d{1,2})(?:st|nd|rd|th)?\b", _F)


def _wd_index(word: str) -> int:
    return WEEKDAY_NAMES.index(word[:3].lower())


def _weekday_list(text: str) -> list[int]:
    return sorted({_wd_index(w) for w in re.findall(_WD, text, re.I)})


def _number(word: str) -> float:
    word = word.lower().replace(" ", "")
    if word.startswith("half"):
        return 0.5
    return float(word) if word[0].isdigit() else float(_NUM_WORDS[word])


@dataclass(frozen=True, slots=True)
class _Said:
    """A time as written, resolved to 24 h only when the schedule is built (so ambiguity is asked, not guessed)."""

    hour: int
    minute: int
    meridiem: str | None
    part: str | None
    padded: bool
    at: bool
    said: str

    @property
    def explicit(self) -> bool:
        return self.at or self.meridiem is not None or self.part is not None or self.said.count(":") > 0

    def resolve(self, when: When, part: str | None = None) -> time:
        return when.hour_minute(self.hour, self.minute, meridiem=self.meridiem, part=self.part or part,
                                padded=self.padded, said=self.said)


_PARTS = {"morning": "morning", "afternoon": "afternoon", "evening": "evening", "night": "night",
          "tonight": "night"}


def _read_time(text: str, pos: int) -> tuple[int, _Said] | None:
    m = _TIME.match(text, pos)
    if not m:
        return None
    said = m.group(0).strip(" ,")
    part = None
    if m.group("dp"):
        part = _PARTS[m.group("dp").split()[-1].lower()]
    if m.group("noon"):
        word = m.group("noon").lower()
        hour = 0 if word == "midnight" else 12
        return m.end(), _Said(hour, 0, None, None, True, bool(m.group("at")), said)
    hour_text = m.group("h")
    meridiem = (m.group("ap") or "").lower() or None
    return m.end(), _Said(int(hour_text), int(m.group("m") or 0), "am" if meridiem == "a" else (
        "pm" if meridiem == "p" else None), part, len(hour_text) == 2 and hour_text[0] == "0",
        bool(m.group("at")), said)


def _relative(text: str, when: When) -> tuple[int, Build] | None:
    lead = _IN.match(text)
    pos = lead.end() if lead else 0
    seconds = 0.0
    parts = 0
    while (m := _DURATION_PART.match(text, pos)) is not None:
        if parts == 0 and m.group(0).lstrip().startswith(("and", ",")):
            break
        seconds += _number(m.group("n")) * _UNIT_S[m.group("u").lower().rstrip("s") or "s"]
        pos = m.end()
        parts += 1
    if parts == 0:
        return None
    tail = _FROM_NOW.match(text, pos)
    if tail:
        pos = tail.end()
    elif not lead:
        return None
    said = text[:pos].strip()

    def build() -> tuple[TriggerSpec, str]:
        return when.once_after(timedelta(seconds=seconds), said)

    return pos, build


def _day_of(m: re.Match[str], when: When, at: time | None) -> date:
    today = when.now.date()
    if m.group("today") or m.group("tonight"):
        return today
    if m.group("tomorrow"):
        return today + timedelta(days=1)
    if m.group("dat"):
        return today + timedelta(days=2)
    if m.group("wd"):
        return when.next_weekday(_wd_index(m.group("wd")), at, not_today=bool(
            m.group("next") and m.group("next").strip().lower() == "next"))
    if m.group("y"):
        return when.calendar_day(int(m.group("y")), int(m.group("mo")), int(m.group("d")), m.group(0).strip())
    name = m.group("mname") or m.group("mname2")
    year = m.group("my") or m.group("my2")
    day = m.group("md") or m.group("dm")
    return when.calendar_day(int(year) if year else None, _MONTHS.index(name[:3].lower()) + 1, int(day),
                             m.group(0).strip())


def _one_shot(text: str, when: When) -> tuple[int, Build] | None:
    day_m = _DAY.match(text)
    said: _Said | None = None
    pos = 0
    if day_m:
        pos = day_m.end()
        found = _read_time(text, pos)
        if found:
            pos, said = found
    else:
        found = _read_time(text, 0)
        if not found or not found[1].explicit:
            return None
        pos, said = found
        day_m = _DAY.match(text, pos)
        if day_m:
            pos = day_m.end()
    part = None
    if day_m:
        part = _PARTS.get((day_m.group("part") or "").lower()) or ("night" if day_m.group("tonight") else None)
    chosen_day = day_m

    def build() -> tuple[TriggerSpec, str]:
        at = said.resolve(when, part) if said else None
        if at is None and part:
            raise ScheduleError(when.text(f"{text[:pos].strip()!r}: at what time? e.g. 'tomorrow morning at 8'",
                                          f"“{text[:pos].strip()}”：几点？"))
        day = _day_of(chosen_day, when, at) if chosen_day else when.now.date()
        return when.once_at(day, at)

    return pos, build


def _optional_time(text: str, pos: int) -> tuple[int, _Said | None]:
    found = _read_time(text, pos)
    return found if found else (pos, None)


def _every(text: str, when: When) -> tuple[int, Build] | None:
    lead = _EVERY.match(text)
    if lead:
        body = _EVERY_BODY.match(text, lead.end())
        if not body:
            return None
        return _every_body(text, body, when)
    alone = _STANDALONE.match(text)
    return _standalone(text, alone, when) if alone else None


def _every_body(text: str, m: re.Match[str], when: When) -> tuple[int, Build] | None:
    pos = m.end()
    if m.group("u"):
        unit = m.group("u").lower().rstrip("s")
        unit = {"sec": "second", "min": "minute", "hr": "hour"}.get(unit, unit)
        n = _number(m.group("n")) if m.group("n") else 1.0
        said = text[:pos].strip()
        if unit in ("second", "minute", "hour"):
            seconds = n * _UNIT_S[unit]
            return pos, lambda: when.every_seconds(seconds, said)
        if unit == "month":
            dom_m = _ON_DOM.match(text, pos)
            pos = dom_m.end() if dom_m else pos
            pos, t = _optional_time(text, pos)

            def monthly() -> tuple[TriggerSpec, str]:
                if n != 1:
                    raise ScheduleError(when.text("every few months: write it as cron, e.g. 'cron: 0 9 1 */3 *'",
                                                  "每隔几个月：请用 cron，例如“cron: 0 9 1 */3 *”"))
                dom = int(dom_m.group("dom")) if dom_m else when.now.day
                return when.cron(t.resolve(when) if t else None, day=str(dom),
                                 en=f"every month on day {dom}", zh=f"每月{dom}日")
            return pos, monthly
        if unit == "week":
            wd_m = _ON_WEEKDAY.match(text, pos)
            pos = wd_m.end() if wd_m else pos
            pos, t = _optional_time(text, pos)
            step = int(n)

            def weekly() -> tuple[TriggerSpec, str]:
                at = t.resolve(when) if t else None
                wd = _wd_index(wd_m.group("wd")) if wd_m else when.now.weekday()
                name = WEEKDAY_NAMES[wd]
                if step == 1:
                    return when.cron(at, day_of_week=name, en=f"every {WEEKDAY_TITLES[wd]}",
                                     zh=f"每周{'一二三四五六日'[wd]}")
                first = when.next_weekday(wd, at)
                return when.every_days(7 * step, first, at, en=f"every {step} weeks on {WEEKDAY_TITLES[wd]}",
                                       zh=f"每{step}周的周{'一二三四五六日'[wd]}")
            return pos, weekly
        pos, t = _optional_time(text, pos)
        step_days = int(n)

        def daily() -> tuple[TriggerSpec, str]:
            at = t.resolve(when) if t else None
            if step_days == 1:
                return when.cron(at, en="every day", zh="每天")
            return when.every_days(step_days, None, at, en=f"every {step_days} days", zh=f"每{step_days}天")
        return pos, daily
    pos, t = _optional_time(text, pos)
    if m.group("workday"):
        return pos, lambda: when.cron(t.resolve(when) if t else None, day_of_week="mon-fri",
                                      en="every weekday", zh="每个工作日")
    if m.group("weekend"):
        return pos, lambda: when.cron(t.resolve(when) if t else None, day_of_week="sat,sun",
                                      en="every weekend day", zh="每个周末")
    if m.group("dayword"):
        part = _PARTS.get(m.group("dayword").lower())
        return pos, lambda: when.cron(_part_time(t, when, part, text[:pos]), en="every day", zh="每天")
    if m.group("ord"):
        return pos, _nth_weekday(m.group("ord"), m.group("owd"), t, when)
    days = _weekday_list(m.group("wds"))
    names = ",".join(WEEKDAY_NAMES[d] for d in days)
    pretty = ", ".join(WEEKDAY_TITLES[d] for d in days)
    zh_days = "、".join("周" + "一二三四五六日"[d] for d in days)
    if m.group("other"):
        def fortnightly() -> tuple[TriggerSpec, str]:
            at = t.resolve(when) if t else None
            first = when.next_weekday(days[0], at)
            return when.every_days(14, first, at, en=f"every other {pretty}", zh=f"每两周的{zh_days}")
        return pos, fortnightly
    return pos, lambda: when.cron(t.resolve(when) if t else None, day_of_week=names, en=f"every {pretty}",
                                  zh=f"每{zh_days}")


def _part_time(t: _Said | None, when: When, part: str | None, said: str) -> time | None:
    if t:
        return t.resolve(when, part)
    if part:
        raise ScheduleError(when.text(f"{said.strip()!r}: at what time? e.g. 'every morning at 8'",
                                      f"“{said.strip()}”：几点？"))
    return None


def _nth_weekday(ordinal: str, weekday: str, t: _Said | None, when: When) -> Build:
    nth = _ORDINALS[ordinal.lower()]
    wd = _wd_index(weekday)
    name = WEEKDAY_NAMES[wd]
    zh_nth = {"1st": "第一个", "2nd": "第二个", "3rd": "第三个", "4th": "第四个", "5th": "第五个", "last": "最后一个"}

    def build() -> tuple[TriggerSpec, str]:
        return when.cron(t.resolve(when) if t else None, day=f"{nth} {name}",
                         en=f"on the {ordinal.lower()} {WEEKDAY_TITLES[wd]} of each month",
                         zh=f"每月{zh_nth[nth]}周{'一二三四五六日'[wd]}")
    return build


def _standalone(text: str, m: re.Match[str], when: When) -> tuple[int, Build] | None:
    if m.group("hourly"):
        return m.end(), lambda: when.every_seconds(3600, "hourly")
    pos, t = _optional_time(text, m.end())

    def at() -> time | None:
        return t.resolve(when) if t else None

    if m.group("daily"):
        return pos, lambda: when.cron(at(), en="every day", zh="每天")
    if m.group("weekly"):
        wd_m = _ON_WEEKDAY.match(text, m.end())
        if wd_m:
            pos, t = _optional_time(text, wd_m.end())
        wd = _wd_index(wd_m.group("wd")) if wd_m else when.now.weekday()
        return pos, lambda: when.cron(at(), day_of_week=WEEKDAY_NAMES[wd],
                                      en=f"every {WEEKDAY_TITLES[wd]}", zh=f"每周{'一二三四五六日'[wd]}")
    if m.group("monthly"):
        dom_m = _ON_DOM.match(text, m.end())
        if dom_m:
            pos, t = _optional_time(text, dom_m.end())
        dom = int(dom_m.group("dom")) if dom_m else when.now.day
        return pos, lambda: when.cron(at(), day=str(dom), en=f"every month on day {dom}", zh=f"每月{dom}日")
    if m.group("weekdays"):
        return pos, lambda: when.cron(at(), day_of_week="mon-fri", en="every weekday", zh="每个工作日")
    if m.group("weekends"):
        return pos, lambda: when.cron(at(), day_of_week="sat,sun", en="every weekend day", zh="每个周末")
    if m.group("pwds"):
        days = _weekday_list(m.group("pwds"))
        pretty = ", ".join(WEEKDAY_TITLES[d] for d in days)
        zh_days = "、".join("周" + "一二三四五六日"[d] for d in days)
        return pos, lambda: when.cron(at(), day_of_week=",".join(WEEKDAY_NAMES[d] for d in days),
                                      en=f"every {pretty}", zh=f"每{zh_days}")
    if m.group("ord"):
        return pos, _nth_weekday(m.group("ord"), m.group("owd"), t, when)
    dom = int(m.group("dom"))
    return pos, lambda: when.cron(at(), day=str(dom), en=f"every month on day {dom}", zh=f"每月{dom}日")


def match(text: str, when: When) -> tuple[int, Build] | None:
    """The longest English schedule at the start of ``text``."""
    best: tuple[int, Build] | None = None
    for matcher in (_every, _relative, _one_shot):
        found = matcher(text, when)
        if found and (best is None or found[0] > best[0]):
            best = found
    return best
