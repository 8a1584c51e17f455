"""What `/signals` computed last, kept until the prices, the series, the rules or the day change.

Answering `/signals` loaded every rule's whole history from SQLite and re-primed every rule,
180-400 ms a question, although the data changes only when a refresh writes. The answer of a
what-if check (`check_rules(persist=False)`) depends only on the stored data (counted by
`storage.versioning.data_version`), the rules, the expected session and today's calendar;
those are the key. "Last event" comes from the event log, which the service writes between
refreshes, so it is read afresh on every call.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from dataclasses import replace
from datetime import date, datetime

from bot.service.evaluation import CheckReport, check_rules, expected_last_session
from signals.rules import Rule
from storage.db import Store
from storage.rule_state import last_event_by_rule
from storage.versioning import data_version


class SignalCache:
    """The last what-if check of every rule, shared by a command core's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Hashable = None
        self._report: CheckReport | None = None

    def check(self, db: Store, rules: Sequence[Rule], now: datetime) -> CheckReport:
        """`check_rules(db, rules, now=now, persist=False)`, computed once per data version."""
        key = _key(db, rules, now)
        with self._lock:
            cached = self._report if key == self._key else None
        if cached is None:
            cached = check_rules(db, rules, now=now, persist=False)
            with self._lock:
                self._key, self._report = key, cached
            return cached
        return _with_last_events(db, cached)


def _key(db: Store, rules: Sequence[Rule], now: datetime) -> Hashable:
    # Read the version first: a write landing during the load gives a newer key next time.
    prints = tuple(rule.fingerprint() for rule in rules)
    return data_version(db), prints, expected_last_session(now), date.today()


def _with_last_events(db: Store, report: CheckReport) -> CheckReport:
    last = last_event_by_rule(db)
    checks = tuple(replace(c, last_event=last.get(c.rule.id)) for c in report.checks)
    return replace(report, checks=checks)
