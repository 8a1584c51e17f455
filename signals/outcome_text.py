"""A track record in words: the alert's one line, the reason it has none, the table.

Everything here states what happened after past firings; nothing is worded as a forecast.
"""

from __future__ import annotations

import re

from signals.outcomes import HorizonOutcome, Summary, TrackRecord
from signals.scorecard import ScoreLine

# Fewer firings than this make a median that means nothing: the alert then says nothing.
MIN_FIRINGS = 5
# The horizon the alert's line speaks of, when the record has it.
ALERT_HORIZON = "3M"
TABLE_HEADER = (
    "horizon", "firings", "indep.", "median", "positive", "best", "worst", "all sessions",
)  # fmt: skip


# How the record heading names each kind of move (a ratio's move is relative: in %).
KIND_WORDS = {
    "spread": "spread", "return": "return", "relative": "relative change", "change": "change",
}  # fmt: skip


def alert_horizon(record: TrackRecord) -> HorizonOutcome | None:
    """The horizon the alert speaks of: 3M, else the middle one computed."""
    chosen = record.at(ALERT_HORIZON)
    if chosen is None and record.horizons:
        chosen = record.horizons[len(record.horizons) // 2]
    return chosen


def horizon_words(outcome: HorizonOutcome) -> str:
    """`3M` → `3 months`, `1M` → `1 month`; any other label → its length in sessions."""
    match = re.fullmatch(r"(\d+)M", outcome.horizon.label)
    if match is None:
        return f"{outcome.horizon.sessions} sessions"
    months = int(match[1])
    return f"{months} month" + ("" if months == 1 else "s")


def format_move(value: float | None, unit: str) -> str:
    """+180 bps, +2.4 %, +0.40 pts; n/a without a value."""
    if value is None:
        return "n/a"
    if round(value, 0 if unit == "bps" else 1) == 0:
        value = 0.0  # -0.02 % reads "+0.0 %", not "-0.0 %"
    if unit == "bps":
        return f"{value:+,.0f} bps"
    if unit == "%":
        return f"{value:+.1f} %"
    return f"{value:+.2f} {unit}".strip()


def share_text(summary: Summary) -> str:
    """The share of positive moves in whole percent (52 %)."""
    share = summary.share_positive
    return "n/a" if share is None else f"{share * 100:.0f} %"


def outcome_line(record: TrackRecord) -> str | None:
    """The alert's line, or None when fewer than `MIN_FIRINGS` firings can be measured.

    "Past 12 firings since 2000: IWM − IWB over the next 3 months +180 bps median, positive
    8 of 12 (all sessions: +10 bps, 52 %)"
    """
    outcome = alert_horizon(record)
    if outcome is None or outcome.firings.count < MIN_FIRINGS:
        return None
    firings, base, unit = outcome.firings, outcome.base, record.tracked.unit
    since = f" since {record.since.year}" if record.since else ""
    apart = f" ({firings.independent} independent)" if firings.independent < firings.count else ""
    return (
        f"Past {firings.count} firings{since}{apart}: {record.tracked.label} over the next "
        f"{horizon_words(outcome)} {format_move(firings.median, unit)} median, positive "
        f"{firings.positive} of {firings.count} "
        f"(all sessions: {format_move(base.median, unit)}, {share_text(base)})"
    )


def why_no_line(record: TrackRecord) -> str | None:
    """Why the alert carries no track record (None when it does)."""
    outcome = alert_horizon(record)
    if outcome is None:
        return "no horizon configured for the track record"
    count = outcome.firings.count
    if count >= MIN_FIRINGS:
        return None
    since = f" since {record.since}" if record.since else ""
    extra = _not_counted(outcome)
    return (
        f"only {count} past firing{'s' if count != 1 else ''}{since} with the next "
        f"{horizon_words(outcome)} in the data{extra}; the alert shows a track record from "
        f"{MIN_FIRINGS}"
    )


def _not_counted(outcome: HorizonOutcome) -> str:
    parts = []
    if outcome.pending:
        parts.append(f"{outcome.pending} too recent")
    if outcome.gaps:
        parts.append(f"{outcome.gaps} ending in a gap in the data")
    return f" ({', '.join(parts)})" if parts else ""


def outcome_rows(record: TrackRecord) -> list[tuple[str, ...]]:
    """The table per horizon: firings, independent, median, positive, best, worst, base."""
    unit = record.tracked.unit
    rows = [TABLE_HEADER]
    for outcome in record.horizons:
        firings, base = outcome.firings, outcome.base
        rows.append(
            (
                outcome.horizon.label,
                str(firings.count),
                str(firings.independent),
                format_move(firings.median, unit),
                f"{firings.positive}/{firings.count}",
                format_move(firings.best, unit),
                format_move(firings.worst, unit),
                f"{format_move(base.median, unit)}, {share_text(base)}",
            )
        )
    return rows


def outcome_table(record: TrackRecord) -> str:
    """`outcome_rows` as fixed-width text (for a fenced block or a terminal)."""
    rows = outcome_rows(record)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def record_heading(record: TrackRecord) -> str:
    """What the table measures and over which history, in one line."""
    span = f"{record.since} to {record.until}" if record.since and record.until else "no history"
    kind = KIND_WORDS[record.tracked.kind]
    sessions = ", ".join(f"{h.horizon.label} = {h.horizon.sessions}" for h in record.horizons)
    return (
        f"After each past firing, {record.tracked.label} {kind} in {record.tracked.unit} "
        f"({span}; sessions: {sessions})"
    )


def scorecard_text(line: ScoreLine) -> str:
    """One recent firing against its history, e.g. "x fired 2026-05-12: IWM − IWB +120 bps in
    38 sessions since; earlier firings after 38 sessions: median -5 bps, positive 12 of 20
    (all sessions: +3 bps, 51 %)"."""
    unit, past, base = line.unit, line.past, line.base
    head = (
        f"{line.rule_id} fired {line.fired}: {line.label} {format_move(line.move, unit)} "
        f"in {line.sessions} session{'s' if line.sessions != 1 else ''} since"
    )
    if past.count == 0:
        history = "no earlier firing to compare with"
    else:
        median = format_move(past.median, unit)
        history = (
            f"earlier firings after {line.sessions} sessions: median {median}, "
            f"positive {past.positive} of {past.count}"
        )
    return f"{head}; {history} (all sessions: {format_move(base.median, unit)}, {share_text(base)})"
