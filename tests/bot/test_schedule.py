"""The pure job plan: a week with a holiday and an early close, windows, catch-up policy."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time

from bot.calendar import NEW_YORK
from bot.config import load_settings
from bot.service import schedule

SETTINGS = load_settings(None)  # 15-minute refreshes, close + 20 min, digest 17:30


def new_york(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK).astimezone(UTC)


def local(moment: datetime) -> str:
    return moment.astimezone(NEW_YORK).strftime("%a %H:%M")


def test_thanksgiving_week_plans_exactly_the_expected_jobs() -> None:
    jobs = schedule.plan_days(date(2025, 11, 22), date(2025, 11, 30), SETTINGS)

    per_day = Counter((job.session.isoformat(), job.kind) for job in jobs)
    for day in ("2025-11-24", "2025-11-25", "2025-11-26"):
        assert per_day[day, "intraday"] == 25  # 09:45 .. 15:45
    assert per_day["2025-11-28", "intraday"] == 13  # 09:45 .. 12:45, early close
    assert not any(job.session == date(2025, 11, 27) for job in jobs)
    after_close = [(job.kind, local(job.at)) for job in jobs if job.kind != "intraday"]
    assert after_close == [
        ("evaluate", "Mon 16:20"),
        ("snapshot", "Mon 16:20"),
        ("digest", "Mon 17:30"),
        ("evaluate", "Tue 16:20"),
        ("snapshot", "Tue 16:20"),
        ("digest", "Tue 17:30"),
        ("evaluate", "Wed 16:20"),
        ("snapshot", "Wed 16:20"),
        ("digest", "Wed 17:30"),
        ("evaluate", "Fri 13:20"),
        ("snapshot", "Fri 13:20"),
        ("digest", "Fri 17:30"),
    ]
    friday = [local(job.at) for job in jobs if job.session == date(2025, 11, 28)]
    assert friday[0] == "Fri 09:45" and friday[12] == "Fri 12:45"
    assert jobs == sorted(jobs)


def test_settings_change_the_plan() -> None:
    config = load_settings(None, intraday_minutes=60, close_delay_minutes=0, digest_time=time(8, 0))
    jobs = schedule.plan_session(date(2025, 11, 28), config)
    assert [(job.kind, local(job.at)) for job in jobs] == [
        ("digest", "Fri 08:00"),
        ("intraday", "Fri 10:30"),
        ("intraday", "Fri 11:30"),
        ("intraday", "Fri 12:30"),
        ("evaluate", "Fri 13:00"),
        ("snapshot", "Fri 13:00"),
    ]


def test_the_plan_keeps_new_york_times_across_daylight_saving() -> None:
    before = schedule.plan_session(date(2025, 10, 31), SETTINGS)
    after = schedule.plan_session(date(2025, 11, 3), SETTINGS)
    assert [local(j.at)[4:] for j in before] == [local(j.at)[4:] for j in after]


def test_jobs_between_is_open_at_the_start_and_closed_at_the_end() -> None:
    evaluation = new_york("2025-11-26T16:20")
    due = schedule.jobs_between(new_york("2025-11-26T15:45"), evaluation, SETTINGS)
    assert [job.kind for job in due] == ["evaluate", "snapshot"]
    assert schedule.jobs_between(evaluation, new_york("2025-11-26T17:00"), SETTINGS) == []


def test_next_slot_skips_the_holiday_and_the_weekend() -> None:
    after_wednesday = schedule.next_slot_after(new_york("2025-11-26T17:30"), SETTINGS)
    assert after_wednesday == new_york("2025-11-28T09:45")
    after_friday = schedule.next_slot_after(new_york("2025-11-28T17:30"), SETTINGS)
    assert after_friday == new_york("2025-12-01T09:45")
    assert (
        schedule.next_slot_after(
            new_york("2025-11-28T17:30"), SETTINGS, until=new_york("2025-11-30T00:00")
        )
        is None
    )


def test_catchup_covers_every_missed_session_in_order() -> None:
    now = new_york("2025-12-01T10:00")
    assert schedule.catchup_sessions(date(2025, 11, 24), now, SETTINGS) == [
        date(2025, 11, 25),
        date(2025, 11, 26),
        date(2025, 11, 28),
    ]
    assert schedule.catchup_sessions(date(2025, 11, 28), now, SETTINGS) == []
    assert schedule.catchup_sessions(None, now, SETTINGS) == [date(2025, 11, 28)]


def test_catchup_waits_for_the_close_delay() -> None:
    before_evaluation = new_york("2025-11-28T13:19")
    assert schedule.catchup_sessions(date(2025, 11, 26), before_evaluation, SETTINGS) == []


def test_alert_window_counts_calendar_days_back_from_today() -> None:
    now = new_york("2025-12-01T10:00")
    assert schedule.alert_cutoff(now, 3) == date(2025, 11, 28)
    assert schedule.should_alert(date(2025, 11, 28), now, 3)
    assert not schedule.should_alert(date(2025, 11, 26), now, 3)
    assert not schedule.should_alert(date(2025, 11, 28), now, 0)
