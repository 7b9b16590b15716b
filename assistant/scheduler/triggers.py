"""When a job fires: a stored trigger spec plus a time zone, turned into exact UTC fire times.

APScheduler's ``CronTrigger`` and ``IntervalTrigger`` do the calendar math; this module adds the rules the loop
needs: "the first fire time strictly after t", a cron wall-clock time that occurs twice when clocks go back fires
once (APScheduler 3 returns both), crontab weekday numbers mean what they mean in crontab (APScheduler 3 counts
Monday as 0), and "every N days/weeks at a time" keeps its wall-clock time across daylight-saving changes.

Spec shapes (stored as JSON in ``jobs.trigger_spec``):
    date      {"run_at": "<UTC ISO>"}
    interval  {"seconds": 7200, "start": "<UTC ISO>"}               fires at start + k * seconds, k >= 1
    cron      {"minute": "30", "hour": "9", "day": "*", "month": "*", "day_of_week": "mon-fri"}
    calendar  {"start": "2026-06-05", "step_days": 14, "hour": 17, "minute": 0}   local date + k * step_days
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from assistant.errors import ScheduleError

__all__ = ["Schedule", "TriggerSpec", "TriggerType", "crontab_fields", "zone"]

TriggerType = Literal["date", "interval", "cron", "calendar"]
_TINY = timedelta(microseconds=1)
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_CRON_KEYS = ("minute", "hour", "day", "month", "day_of_week")
_COUNT_CAP = 1000


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin'") from exc


@dataclass(frozen=True, slots=True)
class TriggerSpec:
    type: TriggerType
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def recurring(self) -> bool:
        return self.type != "date"


def _expand_dow_token(token: str) -> set[int]:
    step = 1
    if "/" in token:
        token, step_text = token.split("/", 1)
        step = int(step_text)
        if step < 1:
            raise ValueError("step must be at least 1")
    if token == "*":
        lo, hi = 0, 6
    elif "-" in token:
        a, b = token.split("-", 1)
        lo, hi = int(a), int(b)
    else:
        lo = hi = int(token)
    if not (0 <= lo <= 7 and 0 <= hi <= 7 and lo <= hi):
        raise ValueError(f"day of week {token!r} is outside 0-7")
    return {n % 7 for n in range(lo, hi + 1, step)}


def _crontab_dow(field_text: str) -> str:
    """Crontab weekdays (0 or 7 = Sunday) as APScheduler weekday names, which need no numbering convention."""
    if not any(ch.isdigit() for ch in field_text):
        return field_text  # "*", "mon-fri": names mean the same in both
    days: set[int] = set()
    for token in field_text.split(","):
        days |= _expand_dow_token(token.strip())
    if days == set(range(7)):
        return "*"
    return ",".join(_CRON_DAYS[d] for d in sorted(days, key=lambda d: (d - 1) % 7))  # Monday first


def crontab_fields(expr: str) -> dict[str, str]:
    """'30 9 * * 1-5' -> APScheduler cron fields; raises ScheduleError naming what is wrong."""
    parts = expr.split()
    if len(parts) != 5:
        raise ScheduleError(
            f"a cron expression has 5 fields (minute hour day month weekday); {expr!r} has {len(parts)}"
        )
    fields = dict(zip(_CRON_KEYS, parts, strict=True))
    try:
        fields["day_of_week"] = _crontab_dow(fields["day_of_week"])
        CronTrigger(timezone=UTC, **fields)
    except ValueError as exc:
        raise ScheduleError(f"cron expression {expr!r} is not valid: {exc}") from exc
    return fields


def _utc(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Schedule:
    """A trigger spec bound to its zone. Every time it returns is an aware UTC datetime."""

    def __init__(self, trigger: TriggerSpec, timezone: str) -> None:
        self.trigger = trigger
        self.tz = zone(timezone)
        spec = trigger.spec
        try:
            if trigger.type == "date":
                self._run_at = _utc(spec["run_at"])
            elif trigger.type == "interval":
                seconds = float(spec["seconds"])
                if seconds <= 0:
                    raise ValueError("an interval must be positive")
                self._interval = IntervalTrigger(seconds=seconds, start_date=_utc(spec["start"]), timezone=UTC)
            elif trigger.type == "cron":
                self._cron = CronTrigger(timezone=self.tz, **{k: spec.get(k, "*") for k in _CRON_KEYS})
            elif trigger.type == "calendar":
                self._start_day = date.fromisoformat(spec["start"])
                self._step = int(spec["step_days"])
                self._time = time(int(spec["hour"]), int(spec["minute"]))
                if self._step < 1:
                    raise ValueError("step_days must be at least 1")
            else:
                raise ValueError(f"unknown trigger type {trigger.type!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ScheduleError(f"the stored schedule is not valid ({exc}); cancel the job and set it again") from exc

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire time strictly after ``after``; None when the schedule has no more."""
        after = after.astimezone(UTC)
        if self.trigger.type == "date":
            return self._run_at if self._run_at > after else None
        if self.trigger.type == "interval":
            fire = self._interval.get_next_fire_time(None, after + _TINY)
            return None if fire is None else fire.astimezone(UTC)
        if self.trigger.type == "calendar":
            return self._calendar_after(after)
        return self._cron_after(after)

    def _cron_after(self, after: datetime) -> datetime | None:
        probe = after
        for _ in range(8):
            fire = self._cron.get_next_fire_time(None, probe + _TINY)
            if fire is None:
                return None
            fire = fire.astimezone(UTC)
            if not self._second_of_repeated_wall_time(fire):
                return fire
            probe = fire
        return None

    def _second_of_repeated_wall_time(self, fire: datetime) -> bool:
        """When clocks go back, 01:30 happens twice; a cron time is a wall-clock time, so it fires once."""
        wall = fire.astimezone(self.tz).replace(tzinfo=None)
        first = wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
        return first != second and fire == second

    def _calendar_after(self, after: datetime) -> datetime:
        local_day = after.astimezone(self.tz).date()
        k = max(0, (local_day - self._start_day).days // self._step)
        while True:
            day = self._start_day + timedelta(days=k * self._step)
            # fold=0: a time skipped by a forward DST shift maps one hour later, a repeated one to its first.
            fire = datetime.combine(day, self._time, tzinfo=self.tz).astimezone(UTC)
            if fire > after:
                return fire
            k += 1

    def upcoming(self, now: datetime, count: int = 3) -> list[datetime]:
        out: list[datetime] = []
        cursor = now
        while len(out) < count:
            fire = self.next_after(cursor)
            if fire is None:
                break
            out.append(fire)
            cursor = fire
        return out

    def runs_between(self, start: datetime, end: datetime, limit: int) -> int:
        """How many fire times fall in (start, end], counting no further than ``limit``."""
        if self.trigger.type == "interval":
            seconds = float(self.trigger.spec["seconds"])
            return min(limit, int((end - start).total_seconds() // seconds) + 1)
        count = 0
        cursor = start
        while count < limit:
            fire = self.next_after(cursor)
            if fire is None or fire > end:
                break
            count += 1
            cursor = fire
        return count

    def latest_until(self, first: datetime, now: datetime) -> tuple[datetime, int]:
        """Given a fire time ``first`` <= ``now``: the latest fire time <= ``now`` and how many fell in
        [first, now] (so a week of missed runs is coalesced into one). The count stops being exact past 1,000."""
        if self.trigger.type == "interval":
            seconds = float(self.trigger.spec["seconds"])
            k = int((now - first).total_seconds() // seconds)
            return first + timedelta(seconds=k * seconds), k + 1
        latest, count = first, 1
        while count < _COUNT_CAP:
            fire = self.next_after(latest)
            if fire is None or fire > now:
                return latest, count
            latest, count = fire, count + 1
        # Many missed runs (a minutely job over a long sleep): find the latest from a recent window instead.
        for window in (timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=367)):
            probe = self.next_after(max(first, now - window))
            if probe is None or probe > now:
                continue
            while (fire := self.next_after(probe)) is not None and fire <= now:
                probe = fire
            return probe, count
        return latest, count

    def shortest_gap_s(self, now: datetime, samples: int = 48) -> float | None:
        """The shortest time between two runs among the next ``samples``; None for a one-shot schedule."""
        if self.trigger.type == "date":
            return None
        if self.trigger.type == "interval":
            return float(self.trigger.spec["seconds"])
        fires = self.upcoming(now, samples)
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(fires)]
        return min(gaps) if gaps else None

    def local(self, when: datetime) -> datetime:
        return when.astimezone(self.tz)
