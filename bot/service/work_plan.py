"""What the service should run now: the evaluations and digest a (new) leader catches up on,
and the work a planned slot brings. Pure of the scheduler: `runner.py` calls these."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from bot.config import Settings
from bot.service import schedule
from bot.service.worker import WorkItem

# A digest that could not go out within this long after its time is skipped.
DIGEST_STALE = timedelta(hours=3)


def catchup_items(
    last_done: date | None, now: datetime, settings: Settings, last_digest: date | None = None
) -> list[WorkItem]:
    """Evaluations missed while the bot was down, oldest first, then delivery.

    Events of sessions older than `settings.catchup_alert_days` are evaluated (so rule
    state and the events table stay right) with `alert=False`: recorded, never posted.
    A digest missed in the last DIGEST_STALE (none done for its session) runs after them.
    """
    items = []
    for session in schedule.catchup_sessions(last_done, now, settings):
        alert = schedule.should_alert(session, now, settings.catchup_alert_days)
        at = schedule.evaluation_time(session, settings)
        items.append(WorkItem("evaluate", at, session, alert=alert, origin="catchup"))
    items += [d for d in missed_digests(now, settings) if not _done(d.session, last_digest)]
    if items:
        items.append(WorkItem("deliver", now, origin="catchup"))
    return items


def _done(session: date | None, last_done: date | None) -> bool:
    return session is not None and last_done is not None and session <= last_done


def missed_digests(now: datetime, settings: Settings) -> list[WorkItem]:
    """Digests whose time passed less than DIGEST_STALE ago, for a restart or a new leader.

    A leader that died just before the digest time, or a restart a little after it, would
    otherwise skip the session's digest (its slot fired while nobody led). A digest is queued
    once per session and destination, so one already posted is not posted again.
    """
    jobs = schedule.jobs_between(now - DIGEST_STALE, now, settings)
    return [
        WorkItem("digest", job.at, job.session, origin="catchup")
        for job in jobs
        if job.kind == "digest"
    ]


def planned_items(
    jobs: Iterable[schedule.PlannedJob], now: datetime, settings: Settings, *, replay: bool = False
) -> list[WorkItem]:
    """Work for planned jobs that came due; evaluations (and live refreshes) then deliver."""
    items = []
    stale = now - timedelta(minutes=settings.intraday_minutes)
    deliver_after = ("evaluate",) if replay else ("intraday", "evaluate")
    for job in jobs:
        if job.kind == "intraday" and job.at < stale:
            continue  # a refresh for a moment long gone is worthless (e.g. after a suspend)
        if job.kind == "digest" and job.at < now - DIGEST_STALE:
            continue  # yesterday's digest posted today would only confuse the desk
        alert = schedule.should_alert(job.session, now, settings.catchup_alert_days)
        items.append(WorkItem(job.kind, job.at, job.session, alert=alert))
        if job.kind in deliver_after:  # replay fetches nothing intraday: nothing to deliver
            items.append(WorkItem("deliver", job.at))
    return items
