"""Pure planning: which job runs when, on the NYSE calendar, for any clock.

Nothing here waits or runs anything; `bot/service/runner.py` asks for the jobs due in a window
and hands them to a worker. Keeping the plan pure is what lets a test assert that a week
with a holiday and an early close runs exactly the expected jobs, and lets replay use the
very same plan with a simulated clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal, Protocol

from bot import calendar

JobKind = Literal["intraday", "evaluate", "snapshot", "digest"]
# Jobs due at the same instant run in this order: the final evaluation goes first so alerts
# are never delayed by the network-bound snapshot (P/E and FRED), and the digest comes last.
PRIORITY: dict[JobKind, int] = {"intraday": 0, "evaluate": 1, "snapshot": 2, "digest": 3}
# How far ahead `next_slot_after` looks before concluding nothing is planned (covers the
# longest NYSE closure on record plus a weekend).
LOOKAHEAD_DAYS = 14


class ServiceTimes(Protocol):
    """The three settings planning reads (satisfied by `bot.config.Settings`)."""

    intraday_minutes: int
    close_delay_minutes: int
    digest_time: time


@dataclass(frozen=True, order=True)
class PlannedJob:
    """One job due at `at` (aware UTC) for the session `session`."""

    at: datetime
    priority: int
    kind: JobKind
    session: date

    def describe(self) -> str:
        """`kind session@HH:MM New York`, for logs."""
        local = self.at.astimezone(calendar.NEW_YORK).strftime("%H:%M")
        return f"{self.kind} {self.session}@{local}"


def _job(at: datetime, kind: JobKind, session: date) -> PlannedJob:
    return PlannedJob(at=at, priority=PRIORITY[kind], kind=kind, session=session)


def evaluation_time(session: date, times: ServiceTimes) -> datetime:
    """When the final evaluation of `session` runs: its close plus the configured delay."""
    return calendar.session_close(session) + timedelta(minutes=times.close_delay_minutes)


def plan_session(session: date, times: ServiceTimes) -> list[PlannedJob]:
    """Every job of one session, in run order; empty on holidays and weekends."""
    if not calendar.is_session(session):
        return []
    opened, closed = calendar.session_open(session), calendar.session_close(session)
    step = timedelta(minutes=times.intraday_minutes)
    jobs = []
    at = opened + step
    while at < closed:  # the close itself is covered by the final evaluation
        jobs.append(_job(at, "intraday", session))
        at += step
    after_close = evaluation_time(session, times)
    jobs.append(_job(after_close, "evaluate", session))
    jobs.append(_job(after_close, "snapshot", session))
    jobs.append(_job(calendar.at_new_york(session, times.digest_time), "digest", session))
    return sorted(jobs)


def plan_days(start: date, end: date, times: ServiceTimes) -> list[PlannedJob]:
    """Every job of the sessions from `start` to `end` (dates, inclusive), in run order."""
    jobs: list[PlannedJob] = []
    for session in calendar.sessions_between(start, end):
        jobs.extend(plan_session(session, times))
    return sorted(jobs)


def jobs_between(after: datetime, until: datetime, times: ServiceTimes) -> list[PlannedJob]:
    """Jobs due in the window (`after`, `until`], in run order."""
    # A session's digest may fall on the next calendar day when configured after midnight
    # UTC, so look one day back beyond the window.
    first = calendar.new_york_date(after) - timedelta(days=1)
    jobs = plan_days(first, calendar.new_york_date(until), times)
    return [job for job in jobs if after < job.at <= until]


def next_slot_after(
    after: datetime, times: ServiceTimes, *, until: datetime | None = None
) -> datetime | None:
    """The first instant strictly after `after` with a job due (None past `until`)."""
    horizon = after + timedelta(days=LOOKAHEAD_DAYS)
    limit = horizon if until is None else min(until, horizon)
    jobs = jobs_between(after, limit, times)
    return jobs[0].at if jobs else None


def replay_window(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants a replay of sessions `start`..`end` covers: New York midnight to midnight."""
    return (
        calendar.at_new_york(start, time(0, 0)),
        calendar.at_new_york(end + timedelta(days=1), time(0, 0)),
    )


def alert_cutoff(now: datetime, catchup_alert_days: int) -> date:
    """Oldest session date whose events may still alert; older ones are recorded silently."""
    return calendar.new_york_date(now) - timedelta(days=catchup_alert_days)


def should_alert(session: date, now: datetime, catchup_alert_days: int) -> bool:
    """Catch-up policy: alert for `session` only when it is within the alert window."""
    return session >= alert_cutoff(now, catchup_alert_days)


def catchup_sessions(last_done: date | None, now: datetime, times: ServiceTimes) -> list[date]:
    """Sessions whose final evaluation was due by `now` but never finished, oldest first.

    With no evaluation on record (a first start) only the latest due session is evaluated:
    the bot starts from the present instead of replaying all of history.
    """
    delay = timedelta(minutes=times.close_delay_minutes)
    latest = calendar.last_completed_session(now, delay)
    if last_done is None:
        return [latest]
    if last_done >= latest:
        return []
    return calendar.sessions_between(last_done + timedelta(days=1), latest)
