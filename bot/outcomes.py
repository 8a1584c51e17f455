"""Track records of rules (what followed their past firings), cached per data version.

A record is computed from the market a check or a backtest already loaded: the days the
rule fired on it (`signals.firings`: the backtest's fired days, the same state machine as
live, without building the events) and `signals.outcomes.record_of_firings`. It
depends only on the stored data (`storage.versioning.data_version`), the rule's definition
(its fingerprint), the date it is computed up to and the horizons: those are the key. A new
data version empties the cache, so a record never outlives the data it came from.

Rules that differ only in their id and words (same measure, same anti-flap options) have the
same record but for its `rule_id`: a check computes it once for all of them (a first check of
10,000 generated rules fires 65 rules sharing 32 records).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import replace
from datetime import date

from signals.batch import frame_key
from signals.evaluate import machine_options
from signals.firings import fired_days
from signals.frames import rule_frame
from signals.legs import DataError
from signals.models import Event, MarketData
from signals.outcome_text import outcome_line, why_no_line
from signals.outcomes import DEFAULT_HORIZONS, Horizon, TrackRecord, record_of_firings
from signals.rules import Rule

log = logging.getLogger(__name__)

# Where an event carries its track record line (stored with it, so every retry posts the same).
CONTEXT_LINE = "track_record"
CONTEXT_WHY_NOT = "track_record_note"


def compute_record(
    rule: Rule,
    market: MarketData,
    *,
    as_of: date | None = None,
    horizons: Sequence[Horizon] = DEFAULT_HORIZONS,
) -> TrackRecord | None:
    """The rule's track record on the data up to `as_of`; None when a leg has no data."""
    try:
        # The firing days only, searched on the rule's frame: no event is built for them.
        built = rule_frame(rule, market, as_of)
        fired = fired_days(rule, built)
        return record_of_firings(rule, market, fired, horizons=horizons, built=built, as_of=as_of)
    except DataError as error:
        log.info("no track record for %s: %s", rule.id, error)
        return None


class TrackRecords:
    """Records by rule, kept while the data version stays the same (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: Hashable = None
        self._records: dict[Hashable, TrackRecord | None] = {}
        self._shared: dict[Hashable, TrackRecord] = {}  # by `shared_key`

    def record(
        self,
        rule: Rule,
        market: MarketData,
        *,
        version: Hashable,
        as_of: date | None = None,
        horizons: Sequence[Horizon] = DEFAULT_HORIZONS,
    ) -> TrackRecord | None:
        """`compute_record`, once per data version, rule definition, date and horizons."""
        key = (rule.id, rule.fingerprint(), as_of, tuple(horizons))
        shared = (shared_key(rule), as_of, tuple(horizons))
        with self._lock:
            if version != self._version:
                self._version, self._records, self._shared = version, {}, {}
            elif key in self._records:
                return self._records[key]
            elif shared in self._shared:
                return self._records.setdefault(key, _for(rule, self._shared[shared]))
        found = compute_record(rule, market, as_of=as_of, horizons=horizons)
        with self._lock:
            if version == self._version:
                self._records[key] = found
                if found is not None:  # a rule without a record says why in its own log line
                    self._shared[shared] = found
        return found


def shared_key(rule: Rule) -> Hashable:
    """What a rule's record depends on besides the data: its frame (`frame_key`: type and
    measure fields) and what its state machine keeps of the events (`machine_options`, and
    `emit_reversed`). Not its id, words, tags or destinations."""
    return (frame_key(rule), machine_options(rule), rule.emit_reversed)


def _for(rule: Rule, record: TrackRecord) -> TrackRecord:
    return record if record.rule_id == rule.id else replace(record, rule_id=rule.id)


# One per process: the service's checks, the chat commands and the digest share it.
TRACK_RECORDS = TrackRecords()


def with_track_records(
    events: Sequence[Event],
    rules: Iterable[Rule],
    market: MarketData,
    *,
    version: Hashable,
    cache: TrackRecords = TRACK_RECORDS,
) -> list[Event]:
    """Firings with their rule's track record line in `context` (or why there is none)."""
    by_id = {rule.id: rule for rule in rules}
    out = []
    for event in events:
        rule = by_id.get(event.rule_id)
        if event.kind != "fired" or rule is None:
            out.append(event)
            continue
        # Up to the firing: a catch-up must not let later sessions into the record.
        found = cache.record(rule, market, version=version, as_of=event.date)
        out.append(_with_line(event, found))
    return out


def _with_line(event: Event, record: TrackRecord | None) -> Event:
    if record is None:
        return event
    # The firing being announced is the newest: it is too recent to count in its own record.
    line, note = outcome_line(record), why_no_line(record)
    extra = {CONTEXT_LINE: line} if line else {CONTEXT_WHY_NOT: note} if note else {}
    return replace(event, context={**event.context, **extra})
