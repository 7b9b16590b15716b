"""What the schedule phrase parsers share: the member's zone and "now" (``When``), weekday names, and the shape of
a language parser's answer (``Build``). ``phrases`` runs the parsers; ``phrases_en`` and ``phrases_zh`` import only
this module, so the three do not import each other in a circle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from assistant.errors import ScheduleError
from assistant.scheduler.triggers import TriggerSpec, zone

__all__ = ["WEEKDAY_NAMES", "WEEKDAY_TITLES", "Build", "Lang", "Matcher", "When"]

Lang = Literal["en", "zh"]
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_TITLES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class When:
    """What a language parser needs to build triggers: the member's zone, "now" there, the default time."""

    def __init__(self, now: datetime, timezone: str, default_time: time, lang: Lang) -> None:
        self.tz_name = timezone
        self.tz = zone(timezone)
        self.now = now.astimezone(self.tz)
        self.default_time = default_time
        self.lang = lang

    def text(self, en: str, zh: str) -> str:
        return zh if self.lang == "zh" else en

    # ---- times of day ------------------------------------------------------------------------------------
    def hour_minute(self, hour: int, minute: int, *, meridiem: str | None, part: str | None,
                    padded: bool, said: str) -> time:
        """Resolve a written time to 24 h. ``meridiem`` is "am"/"pm", ``part`` a part of the day ("morning",
        "afternoon", "evening", "night", "early"), ``padded`` a leading zero ("05:30" is 24 h by itself)."""
        if minute > 59:
            raise ScheduleError(self.text(f"{said!r}: minutes go up to 59", f"“{said}”：分钟最多 59"))
        if meridiem:
            if not 1 <= hour <= 12:
                raise ScheduleError(self.text(f"{said!r}: with am/pm the hour is 1-12", f"“{said}”：小时应为 1-12"))
            hour = hour % 12 + (12 if meridiem == "pm" else 0)
        elif part in ("afternoon", "evening", "night"):
            if hour > 12 and hour <= 23:
                pass
            elif part == "night" and hour == 12:
                hour = 0
            elif 1 <= hour <= 11:
                hour += 12
        elif part == "noon":
            if 1 <= hour <= 5:
                hour += 12
        elif part in ("morning", "early"):
            if hour == 12:
                hour = 0 if part == "early" else 12
        elif not (hour == 0 or hour >= 13 or padded or hour == 12 or 8 <= hour <= 11):
            # 1-7 o'clock is plausible both early in the morning and in the afternoon/evening: ask.
            hh = f"{hour}" if minute == 0 else f"{hour}:{minute:02d}"
            raise ScheduleError(self.text(
                f"{said!r} could mean {hour:02d}:{minute:02d} or {hour + 12:02d}:{minute:02d}: "
                f"please say '{hh}am' or '{hh}pm' (or write it as 24 h, e.g. {hour + 12:02d}:{minute:02d})",
                f"“{said}”是 {hour:02d}:{minute:02d} 还是 {hour + 12:02d}:{minute:02d}？"
                f"请说“早上{said}”或“下午{said}”（或写成 {hour + 12:02d}:{minute:02d}）",
            ))
        if not 0 <= hour <= 23:
            raise ScheduleError(self.text(f"{said!r} is not a time of day", f"“{said}”不是有效的时间"))
        return time(hour, minute)

    # ---- triggers ----------------------------------------------------------------------------------------
    def once_at(self, day: date, at: time | None) -> tuple[TriggerSpec, str]:
        local = datetime.combine(day, at or self.default_time, tzinfo=self.tz)
        run_at = local.astimezone(UTC)
        if run_at <= self.now:
            now_text = self.now.strftime("%Y-%m-%d %H:%M")
            asked = local.strftime("%Y-%m-%d %H:%M")
            hint = ""
            if day == self.now.date():
                hint = self.text(f"; did you mean tomorrow at {local:%H:%M}?", f"；是指明天 {local:%H:%M} 吗？")
            raise ScheduleError(self.text(
                f"{asked} ({self.tz_name}) is in the past: it is {now_text} now{hint}",
                f"{asked}（{self.tz_name}）已经过去了：现在是 {now_text}{hint}",
            ))
        spec = TriggerSpec("date", {"run_at": run_at.isoformat()})
        return spec, self.text(f"once, {local:%a %Y-%m-%d %H:%M}", f"一次，{local:%Y-%m-%d %H:%M}")

    def once_after(self, delta: timedelta, said: str) -> tuple[TriggerSpec, str]:
        if delta.total_seconds() <= 0:
            raise ScheduleError(self.text(f"{said!r} is not a time in the future", f"“{said}”不是将来的时间"))
        run_at = (self.now + delta).astimezone(UTC).replace(microsecond=0)
        local = run_at.astimezone(self.tz)
        return TriggerSpec("date", {"run_at": run_at.isoformat()}), self.text(
            f"once, {local:%a %Y-%m-%d %H:%M}", f"一次，{local:%Y-%m-%d %H:%M}")

    def every_seconds(self, seconds: float, said: str) -> tuple[TriggerSpec, str]:
        if seconds <= 0:
            raise ScheduleError(self.text(f"{said!r} is not a positive interval", f"“{said}”不是有效的间隔"))
        start = self.now.astimezone(UTC).replace(microsecond=0)
        return TriggerSpec("interval", {"seconds": seconds, "start": start.isoformat()}), _interval_words(
            seconds, self.lang)

    def cron(self, at: time | None, *, day_of_week: str = "*", day: str = "*", en: str, zh: str,
             ) -> tuple[TriggerSpec, str]:
        at = at or self.default_time
        spec = {"minute": str(at.minute), "hour": str(at.hour), "day": day, "month": "*",
                "day_of_week": day_of_week}
        return TriggerSpec("cron", spec), self.text(f"{en} at {at:%H:%M}", f"{zh} {at:%H:%M}")

    def every_days(self, step_days: int, first_day: date | None, at: time | None, *, en: str, zh: str,
                   ) -> tuple[TriggerSpec, str]:
        """Every ``step_days`` days at a wall-clock time, starting on ``first_day`` (default: the next such time)."""
        at = at or self.default_time
        day = first_day or self.now.date()
        if datetime.combine(day, at, tzinfo=self.tz) <= self.now:
            day += timedelta(days=step_days if first_day else 1)
        spec = {"start": day.isoformat(), "step_days": step_days, "hour": at.hour, "minute": at.minute}
        return TriggerSpec("calendar", spec), self.text(f"{en} at {at:%H:%M}", f"{zh} {at:%H:%M}")

    # ---- days --------------------------------------------------------------------------------------------
    def next_weekday(self, weekday: int, at: time | None, *, not_today: bool = False) -> date:
        """The next date with this weekday (0 = Monday) whose time is still ahead; ``not_today`` for "next"."""
        today = self.now.date()
        ahead = (weekday - today.weekday()) % 7
        day = today + timedelta(days=ahead)
        if ahead == 0 and (not_today or datetime.combine(day, at or self.default_time, tzinfo=self.tz) <= self.now):
            day += timedelta(days=7)
        return day

    def calendar_day(self, year: int | None, month: int, day: int, said: str) -> date:
        try:
            found = date(year or self.now.year, month, day)
        except ValueError as exc:
            raise ScheduleError(self.text(f"{said!r} is not a date", f"“{said}”不是有效的日期")) from exc
        if year is None and found < self.now.date():
            found = found.replace(year=found.year + 1)
        return found


def _interval_words(seconds: float, lang: Lang) -> str:
    units = ((86400, "day", "天"), (3600, "hour", "小时"), (60, "minute", "分钟"), (1, "second", "秒"))
    for size, en, zh in units:
        if seconds >= size and seconds % size == 0:
            n = int(seconds // size)
            if lang == "zh":
                return f"每{n}{zh}" if n != 1 else f"每{zh}"
            return f"every {n} {en}s" if n != 1 else f"every {en}"
    return f"每{seconds:g}秒" if lang == "zh" else f"every {seconds:g} seconds"


# A language parser: (text, When) -> (end of the schedule in text, build) or None. ``build`` raises ScheduleError.
Build = Callable[[], tuple[TriggerSpec, str]]
Matcher = Callable[[str, When], "tuple[int, Build] | None"]
