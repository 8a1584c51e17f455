"""`backtest --outcomes`: each rule's track record as JSON, a table and a chart (issue 23)."""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from rich.markup import escape

from bot.cli.common import console, fail
from bot.outcomes import TRACK_RECORDS
from signals.models import MarketData
from signals.outcome_text import outcome_line, outcome_table, record_heading, why_no_line
from signals.outcomes import DEFAULT_HORIZONS, Horizon, Summary, TrackRecord
from signals.rules import Rule

MAX_SESSIONS = 2520  # ten years: a longer window leaves too few firings to say anything


def parse_horizons(text: str | None) -> tuple[Horizon, ...]:
    """`1M=21,3M=63` as horizons (the defaults for None); a bad one fails with one line."""
    if text is None:
        return DEFAULT_HORIZONS
    found = []
    for item in (part.strip() for part in text.split(",")):
        label, _, sessions = item.partition("=")
        if not re.fullmatch(r"[A-Za-z0-9]{1,8}", label.strip()) or not sessions.strip().isdigit():
            fail(f"--horizons: {item!r} is not LABEL=SESSIONS (e.g. 3M=63)", 2)
        count = int(sessions)
        if not 1 <= count <= MAX_SESSIONS:
            fail(
                f"--horizons: {label.strip()} must span 1 to {MAX_SESSIONS} sessions, got {count}",
                2,
            )
        found.append(Horizon(label.strip(), count))
    if len({h.label for h in found}) < len(found):
        fail("--horizons: each label once", 2)
    return tuple(found)


def outcomes_of(
    rule: Rule,
    market: MarketData,
    version: Hashable,
    last: date | None,
    horizons: Sequence[Horizon] = DEFAULT_HORIZONS,
) -> TrackRecord | None:
    """The rule's track record on the data up to `last` (None when a leg has no data)."""
    return TRACK_RECORDS.record(rule, market, version=version, as_of=last, horizons=horizons)


def with_outcomes(result: dict[str, Any], record: TrackRecord | None) -> dict[str, Any]:
    """A backtest result with `outcomes` (one object per horizon) and what they measure."""
    if record is None:
        return {**result, "outcomes": [], "track_record": None}
    about = {
        "measures": record.tracked.label,
        "kind": record.tracked.kind,
        "unit": record.tracked.unit,
        "since": record.since,
        "until": record.until,
        "fired": len(record.fired),
        "line": outcome_line(record),
        "note": why_no_line(record),
    }
    return {**result, "outcomes": outcomes_json(record), "track_record": about}


def outcomes_json(record: TrackRecord) -> list[dict[str, Any]]:
    """One object per horizon: the firings' summary, `base` the same over every session."""
    return [
        {
            "horizon": outcome.horizon.label,
            "sessions": outcome.horizon.sessions,
            **_summary(outcome.firings),
            "unit": record.tracked.unit,
            "pending": outcome.pending,
            "gaps": outcome.gaps,
            "base": _summary(outcome.base),
        }
        for outcome in record.horizons
    ]


def _summary(summary: Summary) -> dict[str, Any]:
    return {
        "count": summary.count,
        "independent": summary.independent,
        "median": summary.median,
        "positive": summary.positive,
        "best": summary.best,
        "worst": summary.worst,
    }


def print_outcomes(record: TrackRecord | None) -> None:
    """The track record under a rule's backtest: heading, table, the alert's line or why not."""
    if record is None:
        console.print("  track record: no data")
        return
    console.print(f"  {escape(record_heading(record))}", highlight=False)
    for row in outcome_table(record).splitlines():
        console.print(f"    {row}", markup=False, highlight=False)
    line = outcome_line(record)
    told = f"alert line: {line}" if line else f"no alert line: {why_no_line(record)}"
    console.print(f"  {told}", markup=False, highlight=False)


def write_charts(records: Sequence[TrackRecord | None], folder: Path) -> None:
    """One `<rule id>.png` fan chart per rule with a record, in `folder` (made if missing)."""
    from bot.delivery.outcome_chart import render_outcome_chart  # lazy: matplotlib is slow

    try:
        folder.mkdir(parents=True, exist_ok=True)
        for record in records:
            if record is not None:
                path = folder / f"{record.rule_id}.png"
                path.write_bytes(render_outcome_chart(record))
                console.print(f"chart: {path}", markup=False, highlight=False)
    except OSError as error:
        fail(f"cannot write charts to {folder}: {error.strerror or error}")
