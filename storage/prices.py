"""The `prices` table: one daily bar per (symbol, date), the cache every command reads."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from itertools import repeat
from typing import TYPE_CHECKING

from sqlite_utils.migrations import Migrations

from signals.models import PRICE_COLUMNS, PriceBar
from signals.statuses import USABLE
from storage.db import Store, one_of, read_frame, register
from storage.rewinds import held_bars, note_resolved, statuses_now
from storage.stamps import utc_now_iso

if TYPE_CHECKING:  # loaded by the functions that build frames: status and outbox need none
    import pandas as pd

migrations = register(Migrations("rotation.prices"))


@migrations()
def create_prices(db: Store) -> None:
    """Daily bars; `final` is 0 for the provisional bar of a session still trading."""
    db.execute(
        """
        CREATE TABLE prices (
            symbol TEXT NOT NULL,
            date TEXT NOT NULL,
            open REAL, high REAL, low REAL, close REAL, adj_close REAL, volume REAL,
            final INTEGER NOT NULL DEFAULT 1,
            source TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            PRIMARY KEY (symbol, date)
        ) WITHOUT ROWID
        """
    )


@migrations()
def add_quality_status(db: Store) -> None:
    """Each bar's data-quality status (signals.quality) and why; only usable ones reach rules."""
    db.execute("ALTER TABLE prices ADD COLUMN status TEXT NOT NULL DEFAULT 'ok'")
    db.execute("ALTER TABLE prices ADD COLUMN quality_note TEXT")
    db.execute("CREATE INDEX prices_status ON prices (status) WHERE status != 'ok'")


_VALUES = ("open", "high", "low", "close", "adj_close", "volume")
# A value the new row lacks keeps the stored one (CSV files miss whole columns), a final bar is
# never replaced by a provisional one, and an identical row is not rewritten at all, so that
# importing the same data twice changes nothing, not even fetched_at.
_UPSERT = f"""
INSERT INTO prices (symbol, date, {", ".join(_VALUES)}, final, source, fetched_at)
VALUES (?, ?, {", ".join("?" for _ in _VALUES)}, ?, ?, ?)
ON CONFLICT(symbol, date) DO UPDATE SET
    {", ".join(f"{c} = coalesce(excluded.{c}, prices.{c})" for c in _VALUES)},
    final = excluded.final, source = excluded.source, fetched_at = excluded.fetched_at,
    status = 'ok', quality_note = NULL
WHERE NOT (prices.final = 1 AND excluded.final = 0)
  AND ({
    " OR ".join(f"coalesce(excluded.{c}, prices.{c}) IS DISTINCT FROM prices.{c}" for c in _VALUES)
}
       OR excluded.final IS DISTINCT FROM prices.final)
"""  # noqa: S608 (built from the constant column names above)


def upsert_bars(db: Store, bars: Iterable[PriceBar], *, fetched_at: str | None = None) -> int:
    """Insert or update bars in one transaction; return how many rows changed."""
    stamp = fetched_at or utc_now_iso()
    return _write_rows(db, [_bar_row(bar, stamp) for bar in bars])


def _write_rows(db: Store, rows: list[tuple[object, ...]]) -> int:
    """Upsert rows in one transaction; return how many changed."""
    from storage.versioning import write_counted  # lazy: versioning imports this module

    with db.atomic():
        # A held bar the source rewrites is ok again: rules that read past it step it again.
        held = held_bars(db, {row[0] for row in rows})
        changed = write_counted(db, _UPSERT, rows)
        if held and changed:
            note_resolved(db, held, statuses_now(db, held), rewritten=True)
    return changed


def upsert_columns(
    db: Store,
    symbol: str,
    days: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    source: str,
    fetched_at: str,
) -> int:
    """`upsert_bars` for final bars given column-wise: `days` as `YYYY-MM-DD`, `values` one
    column per name of `_VALUES` in that order (None for no value); return rows changed."""
    if len(values) != len(_VALUES) or any(len(column) != len(days) for column in values):
        raise ValueError(f"expected {len(_VALUES)} value columns of {len(days)} cells")
    # Same tuples as _bar_row: zip stops at the last day (the repeats are endless).
    rows = list(zip(repeat(symbol), days, *values, repeat(1), repeat(source), repeat(fetched_at)))
    return _write_rows(db, rows)


def _bar_row(bar: PriceBar, stamp: str) -> tuple[object, ...]:
    # Attributes spelled out (the order of _VALUES), not getattr per column: an import of every
    # shared CSV builds 120,000 rows here.
    return (
        bar.symbol,
        bar.date.isoformat(),
        bar.open,
        bar.high,
        bar.low,
        bar.close,
        bar.adj_close,
        bar.volume,
        int(bar.final),
        bar.source,
        stamp,
    )


def count_rows(db: Store, symbol: str | None = None) -> int:
    """Rows cached, for one symbol or all."""
    if symbol is None:
        return db.execute("SELECT count(*) FROM prices").fetchone()[0]
    return db.execute("SELECT count(*) FROM prices WHERE symbol = ?", [symbol]).fetchone()[0]


def cached_symbols(db: Store) -> list[str]:
    """Every symbol with at least one bar, sorted."""
    return [row[0] for row in db.execute("SELECT DISTINCT symbol FROM prices ORDER BY symbol")]


def last_dates(db: Store, *, final_only: bool = True) -> dict[str, date]:
    """The latest cached date per symbol (final bars only by default)."""
    where = "WHERE final = 1" if final_only else ""
    sql = f"SELECT symbol, max(date) FROM prices {where} GROUP BY symbol"  # noqa: S608
    return {symbol: date.fromisoformat(day) for symbol, day in db.execute(sql)}


def first_dates(db: Store) -> dict[str, date]:
    """The earliest cached date per symbol."""
    sql = "SELECT symbol, min(date) FROM prices GROUP BY symbol"
    return {symbol: date.fromisoformat(day) for symbol, day in db.execute(sql)}


def freshness(db: Store) -> list[dict[str, object]]:
    """Per symbol: last date, last final date, rows and when it was last fetched."""
    sql = """
        SELECT symbol, max(date) AS last_date,
               max(CASE WHEN final = 1 THEN date END) AS last_final_date,
               count(*) AS rows, max(fetched_at) AS fetched_at
        FROM prices GROUP BY symbol ORDER BY symbol
    """
    return [dict(row) for row in db.query(sql)]


def load_prices(
    db: Store,
    symbols: Sequence[str] | None = None,
    *,
    start: date | None = None,
    end: date | None = None,
    final_only: bool = False,
    usable_only: bool = True,
) -> dict[str, pd.DataFrame]:
    """Bars per symbol as frames indexed by date, columns `PRICE_COLUMNS`, oldest first.

    Suspect, discarded and rejected bars are left out unless `usable_only` is False.
    """
    if symbols is not None:
        return _frames_per_symbol(db, symbols, start, end, final_only, usable_only)
    clauses, params = _filters(symbols, start, end, final_only)
    if usable_only:
        clauses.append(_USABLE)
    sql = (
        f"SELECT symbol, date, {', '.join(PRICE_COLUMNS)} FROM prices"  # noqa: S608
        f"{' WHERE ' + ' AND '.join(clauses) if clauses else ''} ORDER BY symbol, date"
    )
    frame = _typed(read_frame(db, sql, params))
    return {
        str(symbol): group.drop(columns="symbol").set_index("date")
        for symbol, group in frame.groupby("symbol", sort=True)
    }


_USABLE = f"status IN ({', '.join(repr(s) for s in USABLE)})"


def _frames_per_symbol(
    db: Store,
    symbols: Sequence[str],
    start: date | None,
    end: date | None,
    final_only: bool,
    usable_only: bool,
) -> dict[str, pd.DataFrame]:
    """`load_prices` of named symbols: a query per symbol on the primary key, each frame built
    from its own rows (no symbol cell per row to fetch, no groupby): a backtest loads 120,000
    bars, and fetching them is most of its reading."""
    clauses, params = _filters(None, start, end, final_only)
    clauses = ["symbol = ?", *clauses, *([_USABLE] if usable_only else [])]
    sql = (
        f"SELECT date, {', '.join(PRICE_COLUMNS)} FROM prices"  # noqa: S608
        f" WHERE {' AND '.join(clauses)} ORDER BY date"
    )
    frames = {}
    for symbol in dict.fromkeys(symbols):
        rows = db.execute(sql, [symbol, *params]).fetchall()
        if rows:
            frames[symbol] = _frame_of_rows(rows)
    return frames


def load_price_columns(db: Store, wanted: Mapping[str, Collection[str]]) -> dict[str, pd.DataFrame]:
    """`load_prices` of the named symbols with some of their columns: each symbol's usable
    bars (final and provisional), the price columns in `wanted[symbol]` in their usual order,
    and `final`. A backtest reads one column of a bar: fetching seven is most of its reading."""
    unknown = {name for names in wanted.values() for name in names} - set(PRICE_COLUMNS)
    if unknown:
        raise ValueError(f"not price columns: {', '.join(sorted(unknown))}")
    frames = {}
    for symbol, names in wanted.items():
        values = [name for name in _VALUES if name in names]
        sql = (
            f"SELECT date, {', '.join([*values, 'final'])} FROM prices"  # noqa: S608 (known names)
            f" WHERE symbol = ? AND {_USABLE} ORDER BY date"
        )
        rows = db.execute(sql, [symbol]).fetchall()
        if rows:
            frames[symbol] = _frame_of_rows(rows, values)
    return frames


def _frame_of_rows(
    rows: Sequence[Sequence[object]], values: Sequence[str] = _VALUES
) -> pd.DataFrame:
    """Rows of (date, *values, final) as the frame `_typed` makes, indexed by date, built
    column-wise: one object array, the prices converted to float64 at once (None is NaN),
    with no type inference per column nor a column set per field."""
    import numpy as np
    import pandas as pd

    cells = np.array(rows, dtype=object)
    index = pd.DatetimeIndex(pd.to_datetime(cells[:, 0]), name="date")
    prices = cells[:, 1 : 1 + len(values)].astype("float64")
    frame = pd.DataFrame(prices, index, list(values))
    frame["final"] = cells[:, -1].astype(bool)
    return frame


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Dates as datetimes, prices as float64, `final` as bool (as the frames always had)."""
    import pandas as pd

    frame["date"] = pd.to_datetime(frame["date"])
    frame[list(_VALUES)] = frame[list(_VALUES)].astype("float64")
    frame["final"] = frame["final"].astype(bool)
    return frame


def _filters(
    symbols: Sequence[str] | None, start: date | None, end: date | None, final_only: bool
) -> tuple[list[str], list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if symbols is not None:
        clauses.append(one_of("symbol", len(symbols)))
        params.extend(symbols)
    if start is not None:
        clauses.append("date >= ?")
        params.append(start.isoformat())
    if end is not None:
        clauses.append("date <= ?")
        params.append(end.isoformat())
    if final_only:
        clauses.append("final = 1")
    return clauses, params


def tail_rows(db: Store, symbol: str, limit: int) -> list[dict[str, object]]:
    """The last `limit` stored rows of a symbol (all when `limit` <= 0), oldest first, as stored."""
    newest = "SELECT * FROM prices WHERE symbol = ? ORDER BY date DESC"
    if limit > 0:
        newest += f" LIMIT {int(limit)}"
    rows = db.query(f"SELECT * FROM ({newest}) AS tail ORDER BY date", [symbol])  # noqa: S608
    return [dict(row) for row in rows]


def date_gaps(db: Store, min_days: int) -> list[tuple[str, date, date]]:
    """(symbol, bar, next bar) for final bars more than `min_days` calendar days apart."""
    sql = f"""
        SELECT symbol, previous, date FROM (
            SELECT symbol, date,
                   lag(date) OVER (PARTITION BY symbol ORDER BY date) AS previous
            FROM prices WHERE final = 1
        ) AS bars WHERE {db.days_between("date", "previous")} > ?
    """  # noqa: S608 (the engine's day arithmetic, no input)
    return [
        (symbol, date.fromisoformat(previous), date.fromisoformat(day))
        for symbol, previous, day in db.execute(sql, [min_days])
    ]


def load_for_review(
    db: Store, symbols: Sequence[str], start: date | None = None
) -> dict[str, pd.DataFrame]:
    """Close, Adj Close and status of the bars of `symbols` from `start` (all statuses)."""
    since = "" if start is None else " AND date >= ?"
    sql = (
        "SELECT symbol, date, close, adj_close, status FROM prices"  # noqa: S608
        f" WHERE {one_of('symbol', len(symbols))}{since} ORDER BY symbol, date"
    )
    params = [*symbols, *([] if start is None else [start.isoformat()])]
    frame = read_frame(db, sql, params)
    import pandas as pd

    frame["date"] = pd.to_datetime(frame["date"])
    frame[["close", "adj_close"]] = frame[["close", "adj_close"]].astype("float64")
    return {
        str(symbol): group.drop(columns="symbol").set_index("date")
        for symbol, group in frame.groupby("symbol", sort=True)
    }


def noted_bars(
    db: Store, symbols: Sequence[str], start: date | None = None
) -> dict[str, dict[date, tuple[str, str]]]:
    """{symbol: {date: (status, note)}} of the bars of `symbols` that carry a quality note."""
    since = "" if start is None else " AND date >= ?"
    sql = (
        "SELECT symbol, date, status, quality_note FROM prices"  # noqa: S608
        f" WHERE {one_of('symbol', len(symbols))}{since} AND quality_note IS NOT NULL"
    )
    params = [*symbols, *([] if start is None else [start.isoformat()])]
    found: dict[str, dict[date, tuple[str, str]]] = {}
    for symbol, day, status, note in db.execute(sql, params):
        found.setdefault(str(symbol), {})[date.fromisoformat(day)] = (str(status), str(note))
    return found


def set_statuses(db: Store, symbol: str, marks: Iterable[tuple[date, str, str]]) -> int:
    """Store (date, status, note) for bars of `symbol`; return how many rows changed."""
    from storage.versioning import write_counted  # lazy: versioning imports this module

    rows = [(status, note or None, symbol, day.isoformat()) for day, status, note in marks]
    sql = "UPDATE prices SET status = ?, quality_note = ? WHERE symbol = ? AND date = ?"
    with db.atomic():  # a resolved bar's rewind is stored with its status, or neither
        held = held_bars(db, [symbol])
        changed = write_counted(db, sql, rows)
        note_resolved(db, held, {(symbol, row[3]): (row[0], row[1] or "") for row in rows})
    return changed


def flagged_bars(db: Store, statuses: Sequence[str]) -> list[dict[str, object]]:
    """Bars with one of `statuses` (e.g. suspect), oldest first, with their note."""
    sql = (
        "SELECT symbol, date, close, adj_close, status, quality_note FROM prices"  # noqa: S608
        f" WHERE {one_of('status', len(statuses))} ORDER BY date, symbol"
    )
    return [dict(row) for row in db.query(sql, list(statuses))]


def bar_status(db: Store, symbol: str, day: date) -> str | None:
    """The status of one stored bar, or None when there is no such bar."""
    row = db.execute(
        "SELECT status FROM prices WHERE symbol = ? AND date = ?", [symbol, day.isoformat()]
    ).fetchone()
    return None if row is None else str(row[0])


def last_final_date(db: Store, symbol: str) -> date | None:
    """The last final bar's date of `symbol`, or None when it has none (uses the primary key)."""
    row = db.execute(
        "SELECT max(date) FROM prices WHERE symbol = ? AND final = 1", [symbol]
    ).fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None


def has_symbol(db: Store, symbol: str) -> bool:
    """True when at least one bar of `symbol` is cached."""
    row = db.execute("SELECT 1 FROM prices WHERE symbol = ? LIMIT 1", [symbol]).fetchone()
    return row is not None
