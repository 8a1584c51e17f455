"""The `series` table: dated values such as FRED rates and P/E snapshots (`pe:IWM`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from sqlite_utils.migrations import Migrations

from signals.models import SeriesPoint
from signals.statuses import USABLE
from storage.db import Store, one_of, read_frame, register
from storage.rewinds import held_bars, note_resolved, statuses_now
from storage.stamps import utc_now_iso

if TYPE_CHECKING:  # loaded by the functions that build frames: status and outbox need none
    import pandas as pd

migrations = register(Migrations("rotation.series"))


@migrations()
def create_series(db: Store) -> None:
    """One value per series and date."""
    db.execute(
        """
        CREATE TABLE series (
            series_id TEXT NOT NULL,
            date TEXT NOT NULL,
            value REAL NOT NULL,
            source TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            PRIMARY KEY (series_id, date)
        ) WITHOUT ROWID
        """
    )


@migrations()
def add_quality_status(db: Store) -> None:
    """Each point's data-quality status (signals.quality) and why; only usable ones are read."""
    db.execute("ALTER TABLE series ADD COLUMN status TEXT NOT NULL DEFAULT 'ok'")
    db.execute("ALTER TABLE series ADD COLUMN quality_note TEXT")


@migrations()
def create_series_vintages(db: Store) -> None:
    """Which vintage of a published file (French library: its CRSP month) the series hold."""
    db.execute(
        """
        CREATE TABLE series_vintages (
            source TEXT NOT NULL,
            vintage TEXT NOT NULL,
            last_date TEXT NOT NULL,
            stored_at TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            PRIMARY KEY (source, vintage)
        ) WITHOUT ROWID
        """
    )


_UPSERT = """
INSERT INTO series (series_id, date, value, source, fetched_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT(series_id, date) DO UPDATE SET
    value = excluded.value, source = excluded.source, fetched_at = excluded.fetched_at,
    status = 'ok', quality_note = NULL
WHERE excluded.value IS DISTINCT FROM series.value
"""


def upsert_points(db: Store, points: Iterable[SeriesPoint]) -> int:
    """Insert or update points in one transaction; return how many rows changed."""
    stamp = utc_now_iso()
    from storage.versioning import write_counted  # lazy: versioning imports this module

    rows = [(p.series_id, p.date.isoformat(), p.value, p.source, stamp) for p in points]
    with db.atomic():
        # A held point the source rewrites is ok again: rules that read past it step it again.
        held = held_bars(db, {row[0] for row in rows}, "series")
        changed = write_counted(db, _UPSERT, rows)
        if held and changed:
            note_resolved(db, held, statuses_now(db, held, "series"), rewritten=True)
    return changed


def series_ids(db: Store) -> list[str]:
    """Every stored series id, sorted."""
    return [row[0] for row in db.execute("SELECT DISTINCT series_id FROM series ORDER BY 1")]


def last_series_dates(db: Store) -> dict[str, date]:
    """The latest stored date per series."""
    sql = "SELECT series_id, max(date) FROM series GROUP BY series_id"
    return {series_id: date.fromisoformat(day) for series_id, day in db.execute(sql)}


def load_series(
    db: Store, ids: Sequence[str] | None = None, *, usable_only: bool = True
) -> dict[str, pd.Series]:
    """Values per series id, indexed by date, oldest first (suspect points left out)."""
    if ids is not None:
        return _series_per_id(db, ids, usable_only)
    clauses: list[str] = []
    if usable_only:
        clauses.append(_USABLE)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    sql = f"SELECT series_id, date, value FROM series{where} ORDER BY series_id, date"  # noqa: S608
    frame = read_frame(db, sql)
    import pandas as pd

    frame["date"] = pd.to_datetime(frame["date"])
    return {
        str(series_id): group.set_index("date")["value"].rename(str(series_id))
        for series_id, group in frame.groupby("series_id", sort=True)
    }


_USABLE = f"status IN ({', '.join(repr(s) for s in USABLE)})"


def _series_per_id(db: Store, ids: Sequence[str], usable_only: bool) -> dict[str, pd.Series]:
    """`load_series` of named ids: a query per id on the primary key, each series built from
    its own rows as the one-query path builds it (no id cell per row, no groupby)."""
    import numpy as np
    import pandas as pd

    usable = f" AND {_USABLE}" if usable_only else ""
    sql = f"SELECT date, value FROM series WHERE series_id = ?{usable} ORDER BY date"  # noqa: S608
    found = {}
    for series_id in sorted(set(ids)):
        rows = db.execute(sql, [series_id]).fetchall()
        if rows:
            cells = np.array(rows, dtype=object)
            index = pd.DatetimeIndex(pd.to_datetime(cells[:, 0]), name="date")
            found[series_id] = pd.Series(cells[:, 1].astype("float64"), index, name=series_id)
    return found


def tail_points(db: Store, series_id: str, limit: int) -> list[dict[str, object]]:
    """The last `limit` stored points of a series (all when `limit` <= 0), oldest first."""
    newest = "SELECT * FROM series WHERE series_id = ? ORDER BY date DESC"
    if limit > 0:
        newest += f" LIMIT {int(limit)}"
    rows = db.query(f"SELECT * FROM ({newest}) AS tail ORDER BY date", [series_id])  # noqa: S608
    return [dict(row) for row in rows]


def set_point_statuses(db: Store, series_id: str, marks: list[tuple[date, str, str]]) -> int:
    """Store (date, status, note) for points of `series_id`; return how many rows changed."""
    from storage.versioning import write_counted  # lazy: versioning imports this module

    rows = [(status, note or None, series_id, day.isoformat()) for day, status, note in marks]
    sql = "UPDATE series SET status = ?, quality_note = ? WHERE series_id = ? AND date = ?"
    with db.atomic():  # a resolved point's rewind is stored with its status, or neither
        held = held_bars(db, [series_id], "series")
        changed = write_counted(db, sql, rows)
        note_resolved(db, held, {(series_id, row[3]): (row[0], row[1] or "") for row in rows})
    return changed


def point_statuses(db: Store, series_id: str) -> dict[date, str]:
    """The status of every point of a series that is not plain ok."""
    rows = db.execute(
        "SELECT date, status FROM series WHERE series_id = ? AND status != 'ok'", [series_id]
    )
    return {date.fromisoformat(day): str(status) for day, status in rows}


def flagged_points(db: Store, statuses: Sequence[str]) -> list[dict[str, object]]:
    """Points with one of `statuses`, oldest first, with their note."""
    sql = (
        "SELECT series_id, date, value, status, quality_note FROM series"  # noqa: S608
        f" WHERE {one_of('status', len(statuses))} ORDER BY date, series_id"
    )
    return [dict(row) for row in db.query(sql, list(statuses))]


def record_vintage(
    db: Store, source: str, vintage: str, last_date: date, stamp: str | None = None
) -> None:
    """Note that `source`'s series now hold `vintage` (data to `last_date`), checked at `stamp`
    (ISO text; default now)."""
    stamp = stamp or utc_now_iso()
    db.execute(
        """
        INSERT INTO series_vintages (source, vintage, last_date, stored_at, checked_at)
        VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (source, vintage) DO UPDATE SET
            last_date = excluded.last_date, checked_at = excluded.checked_at
        """,
        [source, vintage, last_date.isoformat(), stamp, stamp],
    )


def latest_vintage(db: Store, source: str) -> dict[str, str] | None:
    """The newest stored vintage of `source` (vintage, last_date, stored_at, checked_at)."""
    rows = db.query(
        "SELECT vintage, last_date, stored_at, checked_at FROM series_vintages"
        " WHERE source = ? ORDER BY vintage DESC LIMIT 1",
        [source],
    )
    found = next(iter(rows), None)
    return {key: str(value) for key, value in dict(found).items()} if found else None


def vintages(db: Store, source: str) -> list[dict[str, str]]:
    """Every stored vintage of `source`, oldest first."""
    rows = db.query(
        "SELECT vintage, last_date, stored_at, checked_at FROM series_vintages"
        " WHERE source = ? ORDER BY vintage",
        [source],
    )
    return [{key: str(value) for key, value in dict(row).items()} for row in rows]
