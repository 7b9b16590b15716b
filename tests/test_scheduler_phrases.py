"""Plain words to triggers, English and Chinese: what a member types and the runs they get back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assistant.config import SchedulerConfig
from assistant.errors import ScheduleError
from assistant.scheduler import JobBook, Schedule, TriggerSpec, parse_when
from assistant.scheduler.triggers import crontab_fields
from tests.standins.manual_clock import ManualClock

BERLIN = "Europe/Berlin"
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # Monday; 12:00 in Berlin, 18:00 in Shanghai


def runs(text: str, tz: str = BERLIN, now: datetime = NOW) -> tuple[list[str], str]:
    parsed = parse_when(text, timezone=tz, now=now)
    schedule = Schedule(parsed.trigger, tz)
    return [t.astimezone(schedule.tz).strftime("%a %m-%d %H:%M") for t in schedule.upcoming(now, 3)], parsed.rest


@pytest.mark.parametrize(("text", "expected", "rest"), [
    ("in 20 minutes to call Bob", ["Mon 06-01 12:20"], "call Bob"),
    ("in 2h check the oven", ["Mon 06-01 14:00"], "check the oven"),
    ("tomorrow at 9 standup", ["Tue 06-02 09:00"], "standup"),
    ("tomorrow 9:00 standup", ["Tue 06-02 09:00"], "standup"),
    ("at 17:30 go home", ["Mon 06-01 17:30"], "go home"),
    ("2026-12-01 09:00 dentist", ["Tue 12-01 09:00"], "dentist"),
    ("every weekday at 9:30 post notes", ["Tue 06-02 09:30", "Wed 06-03 09:30", "Thu 06-04 09:30"], "post notes"),
    ("every day at 8 drink water", ["Tue 06-02 08:00", "Wed 06-03 08:00", "Thu 06-04 08:00"], "drink water"),
    ("every Friday 17:00 summarise", ["Fri 06-05 17:00", "Fri 06-12 17:00", "Fri 06-19 17:00"], "summarise"),
    ("every 2 hours stretch", ["Mon 06-01 14:00", "Mon 06-01 16:00", "Mon 06-01 18:00"], "stretch"),
    ("every 15 minutes check", ["Mon 06-01 12:15", "Mon 06-01 12:30", "Mon 06-01 12:45"], "check"),
    ("on the first Monday of each month at 10:00 check the cloud bill",
     ["Mon 07-06 10:00", "Mon 08-03 10:00", "Mon 09-07 10:00"], "check the cloud bill"),
    ("every other Friday at 5pm beer", ["Fri 06-05 17:00", "Fri 06-19 17:00", "Fri 07-03 17:00"], "beer"),
    ("cron: 30 9 * * 1-5 stand-up", ["Tue 06-02 09:30", "Wed 06-03 09:30", "Thu 06-04 09:30"], "stand-up"),
    ("next monday at 10 review", ["Mon 06-08 10:00"], "review"),
    ("tonight at 8 call mum", ["Mon 06-01 20:00"], "call mum"),
    ("每天早上9点提醒我喝水", ["Tue 06-02 09:00", "Wed 06-03 09:00", "Thu 06-04 09:00"], "喝水"),
    ("工作日9:30站会", ["Tue 06-02 09:30", "Wed 06-03 09:30", "Thu 06-04 09:30"], "站会"),
    ("每周五17:00总结本周", ["Fri 06-05 17:00", "Fri 06-12 17:00", "Fri 06-19 17:00"], "总结本周"),
    ("20分钟后开会", ["Mon 06-01 12:20"], "开会"),
    ("明天下午3点开会", ["Tue 06-02 15:00"], "开会"),
    ("每月第一个周一 检查账单", ["Mon 07-06 09:00", "Mon 08-03 09:00", "Mon 09-07 09:00"], "检查账单"),
    ("每隔2小时 喝水", ["Mon 06-01 14:00", "Mon 06-01 16:00", "Mon 06-01 18:00"], "喝水"),
    ("下午3点半 喝茶", ["Mon 06-01 15:30"], "喝茶"),
])
def test_phrases_give_the_runs_a_member_expects(text: str, expected: list[str], rest: str) -> None:
    assert runs(text) == (expected, rest)


@pytest.mark.parametrize(("text", "asked"), [
    ("at 5 call mum", "'at 5' could mean 05:00 or 17:00: please say '5am' or '5pm'"),
    ("tomorrow at 3 dentist", "could mean 03:00 or 15:00"),
    ("明天5点 开会", "“5点”是 05:00 还是 17:00？请说“早上5点”或“下午5点”"),
])
def test_an_hour_that_could_be_either_half_of_the_day_is_asked_not_guessed(text: str, asked: str) -> None:
    with pytest.raises(ScheduleError, match=asked):
        parse_when(text, timezone=BERLIN, now=NOW)


def test_clear_hours_are_not_questioned() -> None:
    assert runs("at 5pm call mum")[0] == ["Mon 06-01 17:00"]
    assert runs("tomorrow at 05:00 run")[0] == ["Tue 06-02 05:00"]
    assert runs("明天早上5点 跑步")[0] == ["Tue 06-02 05:00"]


@pytest.mark.parametrize(("text", "reason"), [
    ("at 9:00 standup", "2026-06-01 09:00 \\(Europe/Berlin\\) is in the past: it is 2026-06-01 12:00 now; did you "
                        "mean tomorrow at 09:00\\?"),
    ("2020-01-01 09:00 party", "2020-01-01 09:00 \\(Europe/Berlin\\) is in the past"),
    ("今天上午8点 开会", "已经过去了"),
])
def test_a_time_in_the_past_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ScheduleError, match=reason):
        parse_when(text, timezone=BERLIN, now=NOW)


def test_unreadable_text_explains_with_examples() -> None:
    with pytest.raises(ScheduleError, match="Examples: 'in 20 minutes'"):
        parse_when("whenever you like", timezone=BERLIN, now=NOW)
    with pytest.raises(ScheduleError, match="but not 'please'"):
        parse_when("tomorrow at 9 please", timezone=BERLIN, now=NOW, whole=True)


def test_below_the_minimum_interval_is_refused() -> None:
    book = JobBook(None, ManualClock(NOW), SchedulerConfig(min_interval_s=300))  # type: ignore[arg-type]
    with pytest.raises(ScheduleError, match="the shortest allowed interval is 300 s"):
        book.plan("every 2 minutes ping", timezone=BERLIN)
    with pytest.raises(ScheduleError, match="too frequent"):
        book.plan("cron: */1 * * * *", timezone=BERLIN)
    plan = book.plan("every 5 minutes ping", timezone=BERLIN)
    assert len(plan.next_runs) == 3 and plan.echo().startswith("next: Mon 2026-06-01 12:05")


def test_crontab_weekday_numbers_mean_what_crontab_says() -> None:
    # APScheduler 3 counts Monday as 0; crontab counts Sunday as 0 (and 7).
    assert crontab_fields("0 9 * * 0")["day_of_week"] == "sun"
    assert crontab_fields("0 9 * * 1-5")["day_of_week"] == "mon,tue,wed,thu,fri"
    assert crontab_fields("0 9 * * 5,7")["day_of_week"] == "fri,sun"
    with pytest.raises(ScheduleError, match="5 fields"):
        crontab_fields("0 9 * *")


def test_time_is_computed_in_the_members_zone() -> None:
    shanghai = parse_when("every day at 9:00", timezone="Asia/Shanghai", now=NOW)
    fire = Schedule(shanghai.trigger, "Asia/Shanghai").next_after(NOW)
    assert fire == datetime(2026, 6, 2, 1, 0, tzinfo=UTC)


def test_every_n_days_keeps_the_wall_clock_time_across_dst() -> None:
    spec = TriggerSpec("calendar", {"start": "2026-03-27", "step_days": 2, "hour": 21, "minute": 0})
    schedule = Schedule(spec, BERLIN)
    fires = schedule.upcoming(datetime(2026, 3, 27, 0, 0, tzinfo=UTC), 3)
    assert [f.astimezone(schedule.tz).strftime("%d %H:%M") for f in fires] == ["27 21:00", "29 21:00", "31 21:00"]
