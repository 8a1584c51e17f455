"""Store the valuation gap from a French library 5x5 file: its vintage, its revisions, its points.

`valuation_points` turns a parsed file into the `ff:` series (`signals.valuation` computes
them); `store_valuation` writes a whole vintage in one transaction, or nothing: a file that
does not hold the 5x5 tables, an absurd value, or a vintage older than the stored one is one
`SourceError` line. A new vintage revises history: what changed is logged month by month, and
since rules step only bars after their last one, a revised old month never fires alone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from bot.sources.base import SourceError
from bot.sources.french_csv import FrenchFile
from signals.models import SeriesPoint
from signals.valuation import SERIES_IDS, PortfolioTables, relative_price_to_book
from storage.db import Store
from storage.series import latest_vintage, load_series, record_vintage, upsert_points

log = logging.getLogger(__name__)

SOURCE = "french:25_Portfolios_5x5"
SERIES_SOURCE = "french"  # the `source` column of the stored points
# A price-to-book no group of US stocks has had (the 5x5 groups range from about 0.3 to 10).
ABSURD_PB = (0.01, 1000.0)
# The library posts month M's data late in month M+1 or in M+2: a newer vintage is overdue
# (the data STALE) only this long after the last month's end (signals.legs reads monthly
# series the same way).
PUBLICATION_LAG = timedelta(days=75)
# The service looks for a new vintage at most once a day, and only once one may exist (the
# 202510 file was posted 27 days after October's end; the next month ends a month later).
CHECK_EVERY = timedelta(hours=20)
NEXT_VINTAGE_FROM = timedelta(days=45)
_SHOWN_REVISIONS = 5


@dataclass(frozen=True)
class Revision:
    """One stored month whose value the new vintage changed."""

    series_id: str
    day: date
    old: float
    new: float


@dataclass
class ValuationImport:
    """What storing one vintage did."""

    vintage: str
    points: dict[str, list[SeriesPoint]]
    changed: dict[str, int] = field(default_factory=dict)
    revisions: list[Revision] = field(default_factory=list)
    new_months: list[date] = field(default_factory=list)


def valuation_points(file: FrenchFile) -> dict[str, list[SeriesPoint]]:
    """The `ff:` series of a 5x5 file as points; SourceError if a table or value is wrong."""
    tables = PortfolioTables(
        returns=file.table("Value Weighted Returns -- Monthly").frame,
        firms=file.table("Number of Firms").frame,
        size=file.table("Average Market Cap").frame,
        book_to_market=file.table("BE_FYt-1/ME_June").frame,
    )
    months = {len(frame) for frame in vars(tables).values()}
    if len({frame.index[-1] for frame in vars(tables).values()}) != 1 or len(months) != 1:
        raise SourceError("the monthly tables do not cover the same months (a truncated file?)")
    try:
        series = relative_price_to_book(tables)
    except ValueError as error:
        raise SourceError(f"not the 5x5 size x book-to-market file: {error}") from None
    return {sid: _points(sid, values) for sid, values in series.items()}


def _points(series_id: str, values: pd.Series) -> list[SeriesPoint]:
    low, high = ABSURD_PB
    bad = values[(values <= low) | (values >= high)]
    if len(bad):
        day, value = bad.index[0].date(), float(bad.iloc[0])
        raise SourceError(f"{series_id} {day}: absurd price-to-book {value:g} ({len(bad)} such)")
    return [SeriesPoint(series_id, ts.date(), float(v), SERIES_SOURCE) for ts, v in values.items()]


def store_valuation(db: Store, file: FrenchFile, now: datetime | None = None) -> ValuationImport:
    """Store a whole vintage in one transaction (or nothing) and log what it revised.

    `now` (default: the clock) is when it was checked, for `check_due`.
    """
    points = valuation_points(file)
    last = max(p.date for values in points.values() for p in values)
    _refuse_older(db, file.vintage)
    stored = load_series(db, list(points), usable_only=False)
    result = ValuationImport(file.vintage, points)
    result.revisions = find_revisions(stored, points)
    result.new_months = _new_months(stored, points)
    with db.atomic():
        result.changed = {sid: upsert_points(db, values) for sid, values in points.items()}
        stamp = now.astimezone(UTC).isoformat(timespec="seconds") if now else None
        record_vintage(db, SOURCE, file.vintage, last, stamp)
    log_revisions(result)
    return result


def _refuse_older(db: Store, vintage: str) -> None:
    known = latest_vintage(db, SOURCE)
    if known is not None and vintage < known["vintage"]:
        raise SourceError(
            f"vintage {vintage} is older than the stored {known['vintage']}; nothing stored"
        )


def find_revisions(
    stored: Mapping[str, pd.Series], points: Mapping[str, list[SeriesPoint]]
) -> list[Revision]:
    """Stored months whose value differs in the new points (beyond float noise)."""
    found: list[Revision] = []
    for sid, values in points.items():
        old = stored.get(sid)
        if old is None or old.empty:
            continue
        before = {ts.date(): float(v) for ts, v in old.items()}
        found.extend(
            Revision(sid, p.date, before[p.date], p.value)
            for p in values
            if p.date in before and abs(before[p.date] - p.value) > 1e-9 * abs(p.value)
        )
    return found


def _new_months(
    stored: Mapping[str, pd.Series], points: Mapping[str, list[SeriesPoint]]
) -> list[date]:
    old = stored.get("ff:pb_small_vs_large")
    last = old.index[-1].date() if old is not None and len(old) else date.min
    return [p.date for p in points.get("ff:pb_small_vs_large", []) if p.date > last]


def log_revisions(result: ValuationImport) -> None:
    """One line per series the vintage revised, naming its largest revisions."""
    by_series: dict[str, list[Revision]] = {}
    for revision in result.revisions:
        by_series.setdefault(revision.series_id, []).append(revision)
    for sid, revised in by_series.items():
        log.info("French vintage %s: %s", result.vintage, describe_revisions(sid, revised))


def describe_revisions(series_id: str, revised: list[Revision]) -> str:
    """`ff:x: 1,180 months revised (first 1926-07-31, last 2024-12-31); largest: ...`."""
    largest = sorted(revised, key=lambda r: -abs(r.new / r.old - 1.0))[:_SHOWN_REVISIONS]
    shown = ", ".join(
        f"{r.day:%Y-%m} {r.old:.4f} -> {r.new:.4f} ({(r.new / r.old - 1) * 100:+.2f} %)"
        for r in largest
    )
    first, last = revised[0].day, revised[-1].day
    return f"{series_id}: {len(revised):,} months revised ({first} to {last}); largest: {shown}"


def check_due(db: Store, now: datetime) -> bool:
    """Whether the service should look for a new vintage now (about monthly, once a day)."""
    known = latest_vintage(db, SOURCE)
    if known is None:
        return True
    checked = datetime.fromisoformat(known["checked_at"])
    if checked.tzinfo is None or now.tzinfo is None:
        checked, now = checked.replace(tzinfo=None), now.replace(tzinfo=None)
    may_exist = date.fromisoformat(known["last_date"]) + NEXT_VINTAGE_FROM
    return now.date() >= may_exist and now - checked >= CHECK_EVERY


def series_notes(db: Store) -> dict[str, str]:
    """What an alert on an `ff:` series says about its data (source, vintage, lag)."""
    known = latest_vintage(db, SOURCE)
    if known is None:
        return {}
    note = (
        f"price-to-book, Kenneth R. French Data Library 25 size x book-to-market portfolios,"
        f" CRSP vintage {known['vintage']}; monthly data, published with a 1-2 month lag"
    )
    return dict.fromkeys(SERIES_IDS, note)
