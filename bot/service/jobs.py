"""The jobs `rotation-bot run` schedules, composed from the data, signal and delivery modules.

Blocking work (yfinance, pandas, SQLite) runs in a thread via `asyncio.to_thread`, one job
at a time. With `network=False` (replay) nothing is fetched: evaluations read the cached
data only, and yfinance is never imported.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from bot import calendar
from bot.config import Settings
from bot.crash_points import crash_point
from bot.delivery import charts, digest
from bot.delivery import destinations as notifiers
from bot.delivery import sender as delivery
from bot.delivery.alerting import queue_owed, queue_renotifications
from bot.delivery.shared_clock import SharedClock
from bot.rules import files as rules_file
from bot.rules import routing
from bot.rules.stored import rules_in_force
from bot.service import evaluation, series_refresh
from bot.service.fetch_outage import RetryPlan, StaleEvaluation, outage_summary, unreachable
from bot.service.repeats import RepeatedProblems, describe
from bot.service.schedule import alert_cutoff
from bot.sources import quality, refresh, second_source, universe
from bot.sources.base import FetchInterrupted
from signals.rules import Rule
from storage import outbox, outbox_claims, owed_alerts, stamps
from storage.db import Store, clear_tables, copy_database, open_db
from storage.versioning import data_version

log = logging.getLogger(__name__)
T = TypeVar("T")
# Tables a replay starts without, so it alerts like a fresh install over FROM..TO and
# nothing of the live bot's state (rule states, events, outbox, runs) leaks into it.
REPLAY_RESET = ("outbox", "outbox_alerts", "events", "rule_state", "service_runs", "service_state")


class ServiceJobs:
    """The real jobs (see `bot.service.worker.Jobs`)."""

    clock: Callable[[], datetime] = staticmethod(stamps.utc_now)  # on-call times (tests set it)

    def __init__(
        self, settings: Settings, db_path: Path, *, network: bool = True, digests: bool = True
    ) -> None:
        self.settings, self.db_path, self.network = settings, db_path, network
        self.digests = digests
        self._notifiers: list[Any] | None = None
        self._dms: dict[str, Any] = {}  # DM and routed notifiers by destination, kept open
        self._route: routing.Route | None = None  # rule id -> channels, from the last rules read
        self._replay_market: Any = None
        self._stopping = threading.Event()
        # The last evaluation's check with the session and data version it saw, reused by
        # that session's digest while no price or series row has changed since.
        self._last_check: tuple[date, int, evaluation.CheckReport] | None = None
        self.sessions_evaluated = 0
        self.rules_evaluated = 0  # rule checks on current data (status OK), for a replay
        self.alerts_by_rule: Counter[str] = Counter()  # alerts queued, for a replay's summary
        self._retry = RetryPlan(timedelta(minutes=settings.fetch_retry_minutes))
        self._unreachable: dict[str, str] = {}  # symbols the last refresh could not get, why
        self._unevaluated = RepeatedProblems()  # the same NO DATA line, once and then a count
        # Set by `rotation-bot run`: true while this replica leads (several replicas on
        # PostgreSQL); re-notification rounds are the leader's job.
        self.leads: Callable[[], bool] = _always
        self.shared_clock = SharedClock()  # claims, pacing, ages: not this host's wall clock

    async def refresh_intraday(self, now: datetime) -> str:
        """Fetch today's provisional bars, then let rules marked intraday fire on them."""
        if not self.network:
            return "replay: no fetch"
        return await self._in_thread(self._intraday, now)

    async def evaluate_session(self, session: date, now: datetime, *, alert: bool) -> int:
        """Fetch the session's final bars, evaluate every rule as of it, queue new alerts."""
        return await self._in_thread(self._evaluate, session, now, alert)

    async def snapshot_after_close(self, session: date, now: datetime) -> str:
        """Store trailing P/E snapshots and refresh FRED series (skipped in replay)."""
        if not self.network:
            return "replay: no fetch"
        return await self._in_thread(self._snapshot, now)

    async def send_digest(self, session: date, now: datetime) -> str:
        """Post the daily digest (about 0.4 s of pandas per session)."""
        if not self.digests:
            return "digests off"
        return await self._in_thread(self._digest, session, now)

    async def deliver(self) -> Mapping[str, int]:
        """One pass over the outbox; retries wait for the next pass instead of sleeping here."""
        return await self._in_thread(self._deliver)

    def stop(self) -> None:
        """Shutting down: a delivery pass finishes its current send; a refresh stops at once."""
        self._stopping.set()

    def due_retry(self, now: datetime) -> date | None:
        """The session to evaluate again because its refresh could not reach Yahoo, when due."""
        return self._retry.take_due(now)

    def close(self) -> None:
        """Release the notifiers' HTTP sessions."""
        if self._notifiers:
            notifiers.close_notifiers([*self._notifiers, *self._dms.values()])

    async def _in_thread(self, function: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            db = open_db(self.db_path, migrate=False)
            try:
                return function(db, *args)
            finally:
                db.close()

        return await asyncio.to_thread(run)

    def _refresh_prices(self, db: Store, now: datetime, rules: list[Rule]) -> str:
        rule_symbols = rules_file.rule_symbols(rules)
        symbols = universe.configured_symbols(self.settings, rule_symbols)
        report = refresh.refresh_prices(
            db,
            self._yahoo(),
            symbols,
            history_start=self.settings.history_start,
            overlap_sessions=self.settings.refresh_overlap_sessions,
            today=calendar.new_york_date(now),
            quality=quality.quality_config(self.settings),
            weekday_symbols=self.settings.weekday_symbols,
            now=now,
        )
        second_source.check_refresh(db, self.settings, report)
        failed = self._report_unreachable(report)
        for symbol, reason in report.failures.items():
            if symbol not in failed:
                log.warning("refresh of %s failed: %s", symbol, reason)
        for line in (line for item in report.symbols for line in item.warnings):
            log.warning("data quality: %s", line)
        return f"{report.rows_changed} rows changed, {len(report.failures)} failed"

    def _report_unreachable(self, report: refresh.RefreshReport) -> dict[str, str]:
        # One line for every symbol Yahoo did not answer for, saying when the next try is.
        failed = self._unreachable = unreachable(report)
        if failed:
            at = self.clock() + self._retry.interval
            log.warning("%s", outage_summary(report, failed, at))
        return failed

    def _sleep_unless_stopping(self, seconds: float) -> None:
        # A source's backoff sleeps on the stop event: a shutdown never waits for its retries.
        if self._stopping.wait(seconds):
            raise FetchInterrupted("shutting down: retries abandoned")

    def _plan_retry(self, session: date) -> None:
        if self._unreachable:
            self._retry.schedule(session, self.clock())
        else:
            self._retry.cancel()

    def _intraday(self, db: Store, now: datetime) -> str:
        rules = self._rules(db)
        summary = self._refresh_prices(db, now, rules)
        intraday = [rule for rule in rules if rule.intraday]
        if not intraday:
            return summary
        market = evaluation.load_market(db, intraday)
        # No as_of: the last stored bar, provisional included; those bars never advance state.
        report = evaluation.check_rules(db, intraday, now=now, market=market, owe_from=date.min)
        self._enqueue(db, market, rules)
        return f"{summary}; {len(report.new_events)} intraday event(s)"

    def _rules(self, db: Store) -> list[Rule]:
        # Read once per job and passed along: one parse, and one consistent rule set per job.
        # Chat rules come from the database, so a rule saved in chat is evaluated at the next
        # job without a restart (and primed silently, as any rule seen for the first time).
        rules = rules_in_force(self.settings, db)
        defaults = [notifier.name for notifier in self._get_notifiers()]
        self._route = routing.router(rules_file.load_routing(self.settings), rules, defaults)
        return rules

    def _current_route(self, db: Store) -> routing.Route:
        """Where each rule's alerts go, as of the last rules read (read now if none yet)."""
        if self._route is None:
            self._rules(db)
        assert self._route is not None
        return self._route

    def _yahoo(self) -> Any:
        from bot.sources.yahoo import YahooSource  # lazy: yfinance is slow and replay needs none

        source = YahooSource.from_settings(self.settings)
        source.should_stop = self._stopping.is_set  # a shutdown cuts retries and sleeps short
        source.sleep = self._stopping.wait
        return source

    def _evaluate(self, db: Store, session: date, now: datetime, alert: bool) -> int:
        rules = self._rules(db)
        if self.network:
            self._refresh_prices(db, now, rules)
            self._plan_retry(session)
            crash_point("prices")
        version = data_version(db)  # before reading: a write during the check makes it stale
        market = self._market(db, rules)
        cutoff = alert_cutoff(now, self.settings.catchup_alert_days) if alert else date.max
        report = evaluation.check_rules(
            db, rules, as_of=session, now=now, market=market, owe_from=cutoff
        )
        self._log_unevaluated(report, session)
        events = [e for e in report.new_events if e.date >= cutoff]
        silent = len(report.new_events) - len(events)
        if silent:
            log.info("%d event(s) of %s recorded without alerting (too old)", silent, session)
        self._enqueue(db, market, rules)  # this session's alerts, and any a crash left owed
        self._remember_check(session, version, report, events)
        self._refuse_if_nothing_evaluated(report, session)
        return len(events)

    def _refuse_if_nothing_evaluated(self, report: evaluation.CheckReport, session: date) -> None:
        """Not one rule evaluated for `session`: try again on the retry schedule, record stale.

        Live only: a replay reads a fixed cache, where trying again changes nothing.
        """
        checks = report.checks
        if not self.network or not checks or any(c.evaluation.status == "OK" for c in checks):
            return
        self._retry.schedule(session, self.clock())
        why = "no fresh prices" if self._unreachable else checks[0].evaluation.reason
        raise StaleEvaluation(f"{len(checks)} rule(s) not evaluated for {session}: {why}")

    def _remember_check(
        self, session: date, version: int, report: evaluation.CheckReport, alerted: list[Any]
    ) -> None:
        """Keep the session's check for its digest, and count what the summary reports."""
        self._last_check = (session, version, report)
        self.sessions_evaluated += 1
        self.rules_evaluated += sum(1 for c in report.checks if c.evaluation.status == "OK")
        self.alerts_by_rule.update(event.rule_id for event in alerted)

    def _check_of(self, db: Store, session: date) -> evaluation.CheckReport | None:
        """The evaluation's check of `session`, if no price or series row changed since."""
        if self._last_check is None:
            return None
        checked, version, report = self._last_check
        return report if checked == session and version == data_version(db) else None

    def _log_unevaluated(self, report: Any, session: date) -> None:
        # A rule that cannot be evaluated (stale or missing data) would otherwise stay silent
        # exactly when the desk most needs to know; a replay only rehearses, so it says it quietly.
        problems = [c for c in report.checks if c.evaluation.status != "OK"]
        if problems and self._unreachable:
            # The outage line already said why; every rule's NO DATA would repeat it at length.
            # When no rule at all was evaluated, the worker's "stale" line says it instead.
            if len(problems) < len(report.checks) or not self.network:
                log.info("%d rule(s) not evaluated for %s: no fresh prices", len(problems), session)
        elif problems:
            reasons = {c.rule.id: f"{c.evaluation.status}: {c.evaluation.reason}" for c in problems}
            changed, unchanged = self._unevaluated.update(reasons)
            # Live, what changed is a warning and what did not a short counted line; a replay
            # only rehearses: its details are DEBUG (its summary says if nothing was evaluated).
            level = logging.DEBUG
            if self.network:
                level = logging.WARNING if changed else logging.INFO
            text = describe(changed, unchanged)
            log.log(level, "%d rule(s) not evaluated for %s: %s", len(problems), session, text)
        else:
            self._unevaluated.update({})

    def _market(self, db: Store, rules: list[Rule]) -> Any:
        # Without network the cache never changes, so a replay loads it once, not per session.
        if self.network or self._replay_market is None:
            market = evaluation.load_market(db, rules)
            if self.network:
                return market
            self._replay_market = market
        return self._replay_market

    def _enqueue(self, db: Store, market: Any, rules: list[Rule]) -> None:
        # Every owed alert, not only this job's: a predecessor killed after recording its
        # events, or a plain `check`, left theirs owed (storage.owed_alerts).
        # Replay (no network) rehearses without on-call: nobody is pinged, DMed or reminded.
        names = [notifier.name for notifier in self._get_notifiers()]
        queued = queue_owed(
            db, names, settings=self.settings, rules=rules,
            render=lambda event: charts.render_event_chart(event, market),
            now=self.clock(), on_call=self.network, route=self._current_route(db),
        )  # fmt: skip
        if queued.alerts or queued.muted:
            log.info("%d alert(s) queued (%d row(s)) for %s", queued.alerts, queued.rows, names)

    def _enqueue_left_owed(self, db: Store) -> None:
        """Queue alerts a crashed job or a plain `check` recorded but did not queue."""
        if not owed_alerts.count_owed(db):
            return
        rules = self._rules(db)
        self._enqueue(db, evaluation.load_market(db, rules), rules)

    def _get_notifiers(self) -> list[Any]:
        if self._notifiers is None:
            self._notifiers = notifiers.build_notifiers(self.settings)
        return self._notifiers

    def _deliver(self, db: Store) -> Mapping[str, int]:
        names = [notifier.name for notifier in self._get_notifiers()]
        if self.leads():
            self._enqueue_left_owed(db)
        if self.network and self.leads():  # re-notification rounds come due between passes
            queue_renotifications(
                db, names, settings=self.settings, now=self.clock(), route=self._current_route(db)
            )
        policy = replace(delivery.policy_from_settings(self.settings), max_wait=0)
        # One pass at a time here: a claim of ours is a failed pass's (the database went away).
        self.shared_clock.sync(db)
        now = self.shared_clock.now
        outbox_claims.release_own_claims(db, outbox_claims.replica_id(), now())
        report = delivery.deliver_pending(
            db, self._with_dms(db), now=now, policy=policy, stop=self._stopping.is_set
        )
        return {"delivered": report.delivered, "retried": report.retried, "dead": report.dead}

    def _with_dms(self, db: Store) -> list[Any]:
        known = [*self._get_notifiers(), *self._dms.values()]
        new = [d for d in outbox.open_destinations(db) if d not in self._dms]
        # Passing the DM notifiers too lets new ones share their client when no channel has one.
        found = notifiers.on_demand_notifiers(self.settings, new, known)
        self._dms.update((n.name, n) for n in found)
        return [*self._get_notifiers(), *self._dms.values()]

    def _snapshot(self, db: Store, now: datetime) -> str:
        symbols = [s for s in universe.configured_symbols(self.settings) if not s.startswith("^")]
        pe = refresh.refresh_pe(db, self._yahoo(), symbols)
        sleep = self._sleep_unless_stopping
        fred_points, fred_failed = series_refresh.refresh_fred(db, self.settings, sleep)
        french = series_refresh.refresh_french(db, self.settings, now, sleep)
        return (
            f"{len(pe.points)} P/E snapshots, {len(pe.failures)} failed;"
            f" {fred_points} FRED points, {fred_failed} series failed{french}"
        )

    def _digest(self, db: Store, session: date, now: datetime) -> str:
        # Through the outbox like alerts: once per session and destination, retried by the
        # delivery passes, found again after a crash. The pass also sends what waits before it.
        defaults = [notifier.name for notifier in self._get_notifiers()]
        names = digest.digest_destinations(self.settings, defaults)
        rows = digest.queue_digest(
            db, self.settings, session, now, names,
            queued_at=self.clock(), report=self._check_of(db, session), chart=self._charts_shown(),
        )  # fmt: skip
        counts = self._deliver(db)
        return f"digest queued for {rows} destination(s); delivery: {dict(counts)}"

    def _charts_shown(self) -> bool:
        """Whether any destination shows a chart (the console alone does not)."""
        return any(getattr(n, "shows_charts", True) for n in self._get_notifiers())


def _always() -> bool:
    return True


def replay_copy(source: Path, target: Path) -> Path:
    """Copy the database for a replay and clear its alert state; the original is untouched."""
    if not source.exists():
        raise FileNotFoundError(f"no database at {source}: import or update prices first")
    copy_database(source, target)
    db = open_db(target)  # migrate the copy (creates tables a feature may add later)
    clear_tables(db, REPLAY_RESET)
    db.close()
    return target
