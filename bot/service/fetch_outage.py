"""When the service's refresh cannot reach Yahoo: one summary line and a retry on a schedule.

A first run on a machine that cannot reach Yahoo used to print a warning per symbol, then a
line of every rule's NO DATA reason, then sit idle until the next session's slot. Instead the
symbols Yahoo did not answer for are summed up in one line that says when the service tries
again and how to try the bot offline, and the evaluation is queued again at that time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot import calendar
from bot.sources.refresh import RefreshReport

# Reasons the Yahoo source gives for a symbol that may come through later (see
# `bot.sources.yahoo_checks.explain_empty`); anything else (unknown symbol) will not.
UNREACHABLE = ("cannot reach Yahoo Finance", "rate limited by Yahoo", "Yahoo server error")
OFFLINE_HINT = (
    "To try the bot offline meanwhile: rotation-bot prices import DIR "
    "(Yahoo-format CSV files, e.g. ../shared/data/prices)"
)


class StaleEvaluation(Exception):
    """An evaluation that evaluated no rule for its session (no fresh prices, no data).

    Raised by the evaluation job after it recorded what it could; the worker records the run
    `stale` (never `ok`), so `status` and `/healthz` say so and a restart or a new leader
    finds the session still to do.
    """


def stale_notice(last_run: dict[str, object] | None, retry_minutes: int) -> str | None:
    """What a start or a new leader says when the last evaluation evaluated nothing."""
    if last_run is None or last_run.get("outcome") != "stale":
        return None
    return (
        f"the evaluation of {last_run['session']} is still to do ({last_run['detail']}):"
        f" trying it now, then every {retry_minutes} min until it evaluates"
    )


def unreachable(report: RefreshReport) -> dict[str, str]:
    """The symbols whose failure may pass (Yahoo down, rate limit, no network), with why."""
    return {s: r for s, r in report.failures.items() if r.startswith(UNREACHABLE)}


def outage_summary(report: RefreshReport, failed: dict[str, str], retry_at: datetime) -> str:
    """One line: what could not be reached, when the service tries again, how to go offline."""
    reason = next(iter(failed.values())).split(" (gave up after")[0]
    total = len(report.symbols)
    which = (
        f"any of the {total} symbols"
        if len(failed) == total
        else f"{len(failed)} of {total} symbols ({', '.join(failed)})"
    )
    when = retry_at.astimezone(calendar.NEW_YORK).strftime("%a %H:%M %Z")
    return f"no prices from Yahoo Finance for {which}: {reason}. Trying again at {when}. " + (
        OFFLINE_HINT if len(failed) == total else ""
    )


@dataclass
class RetryPlan:
    """The session whose evaluation is tried again, and from when (thread-safe)."""

    interval: timedelta
    _due: tuple[date, datetime] | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def schedule(self, session: date, now: datetime) -> datetime:
        """Try `session` again `interval` after `now`; return that instant."""
        at = now + self.interval
        with self._lock:
            self._due = (session, at)
        return at

    def cancel(self) -> None:
        """The refresh got through: nothing to try again."""
        with self._lock:
            self._due = None

    def take_due(self, now: datetime) -> date | None:
        """The session to evaluate again when its time has come (once), else None."""
        with self._lock:
            if self._due is None or now < self._due[1]:
                return None
            session, self._due = self._due[0], None
            return session
