"""Plain words to a trigger, in English and Chinese, with no model: "every weekday at 9:30", "明天下午3点".

``parse_when`` reads a schedule at the start of a text and returns the trigger, a description and the rest of the
text (the "what" of ``/remind in 20 minutes to call Bob``). It never guesses: an hour that could be morning or
afternoon ("at 5", "5点") is a ``ScheduleError`` that asks, a time in the past is refused with the reason. The
language parsers (``phrases_en``, ``phrases_zh``) each offer the longest match they found; the longer one wins,
and only the winner is built, so a Chinese phrase is never half-read as English. What they share (``When``,
``Build``) lives in ``when``, which all three import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time

from assistant.errors import ScheduleError
from assistant.scheduler import phrases_en, phrases_zh
from assistant.scheduler.triggers import TriggerSpec, crontab_fields
from assistant.scheduler.when import WEEKDAY_NAMES, WEEKDAY_TITLES, Build, Lang, When

__all__ = [
    "WEEKDAY_NAMES", "WEEKDAY_TITLES", "Lang", "ParsedWhen", "When", "detect_lang", "parse_when", "schedule_length",
]

_CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
_CRON = re.compile(r"^\s*cron\s*[:：]\s*(\S+\s+\S+\s+\S+\s+\S+\s+\S+)", re.I)
_LEAD_EN = re.compile(r"^(?:[\s,;:\-–—]+|(?:and\s+)?remind\s+(?:me|us|everyone|the\s+team)\s+(?:to\s+|that\s+|of\s+)?"
                      r"|to\s+|that\s+|about\s+)+", re.I)
_LEAD_ZH = re.compile(r"^(?:[\s,，:：;；、。\-]+|提醒(?:我们|我|大家|一下)?|叫我|通知(?:我|大家)?)+")


def detect_lang(text: str) -> Lang:
    return "zh" if _CJK.search(text) else "en"


@dataclass(frozen=True, slots=True)
class ParsedWhen:
    trigger: TriggerSpec
    description: str  # the schedule in words, in the language it was written in
    rest: str  # the text after the schedule: the "what"
    lang: Lang


def _cron_match(text: str, when: When) -> tuple[int, Build] | None:
    m = _CRON.match(text)
    if not m:
        return None
    expr = m.group(1)

    def build() -> tuple[TriggerSpec, str]:
        return TriggerSpec("cron", crontab_fields(expr)), when.text(f"cron {expr}", f"cron {expr}")

    return m.end(), build


def strip_lead(rest: str) -> str:
    rest = _LEAD_EN.sub("", rest, count=1)
    rest = _LEAD_ZH.sub("", rest, count=1)
    return rest.strip()


def parse_when(text: str, *, timezone: str, now: datetime, default_time: time = time(9, 0),
               whole: bool = False) -> ParsedWhen:
    """Read the schedule at the start of ``text``. ``whole``: the text must be only a schedule (tool arguments)."""
    source = text.strip()
    lang = detect_lang(source)
    when = When(now, timezone, default_time, lang)
    best: tuple[int, Build] | None = None
    for matcher in (_cron_match, phrases_zh.match, phrases_en.match):
        found = matcher(source, when)
        if found and (best is None or found[0] > best[0]):
            best = found
    if best is None:
        raise ScheduleError(when.text(
            f"I could not read a time at the start of {source[:60]!r}. Examples: 'in 20 minutes', "
            "'tomorrow at 9', 'every weekday at 9:30', 'every 2 hours', 'cron: 30 9 * * 1-5'",
            f"没能在“{source[:60]}”开头读出时间。例如：“20分钟后”、“明天下午3点”、“工作日9:30”、“每周五17:00”",
        ))
    end, build = best
    trigger, description = build()
    rest = source[end:]
    if whole and rest.strip(" ,.;，。"):
        raise ScheduleError(when.text(
            f"I read {source[:end].strip()!r} as the schedule but not {rest.strip()!r}; rephrase the time",
            f"“{source[:end].strip()}”之后的“{rest.strip()}”没能理解；请换个说法",
        ))
    return ParsedWhen(trigger=trigger, description=description, rest=strip_lead(rest), lang=lang)


def schedule_length(text: str, *, timezone: str, now: datetime) -> int:
    """How many characters at the start of ``text`` read as a schedule (0: none). Nothing is built, so a schedule
    that ``parse_when`` would refuse (a time in the past, "at 5") still counts: the caller asks it to say why."""
    when = When(now, timezone, time(9, 0), detect_lang(text))
    ends = [found[0] for matcher in (_cron_match, phrases_zh.match, phrases_en.match)
            if (found := matcher(text, when)) is not None]
    return max(ends, default=0)

