"""Dated series from CSV text: `date,value` files, FRED downloads and wide `date,A,B,...` files.

The first column is the date (`date`, `DATE` or FRED's newer `observation_date`); every other
column is one series. Empty cells and FRED's `.` mean "no observation" and are skipped (a
Friday without one between a Thursday and a Saturday that have one takes Saturday's value).
Anything malformed raises `SourceError` naming the file and line; nothing is returned halfway.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from bot.sources.bar_checks import today_in_new_york
from bot.sources.base import SourceError
from bot.sources.csv_dir import note_date, parse_number, read_csv_text
from signals.models import SeriesPoint
from signals.quality import ABSURD_PRICE, RATE_BOUNDS, is_ratio_series, value_problem

_DATE_HEADERS = frozenset({"date", "observation_date"})


def read_series_file(path: Path, series_id: str | None = None) -> dict[str, list[SeriesPoint]]:
    """Points per series id from a `date,value` or wide `date,A,B,...` file (source "csv").

    A single column named `value` is stored as `series_id`, else as the file name without
    `.csv`. Any other single column is stored under its header, or as `series_id` when given.
    In a wide file every column is a series named by its header; `series_id` picks one column.
    """
    text = read_csv_text(path)
    return parse_series_csv(text, str(path), source="csv", series_id=series_id, stem=path.stem)


def parse_series_csv(
    text: str,
    name: str,
    *,
    source: str,
    series_id: str | None = None,
    stem: str | None = None,
    dropped: list[str] | None = None,
) -> dict[str, list[SeriesPoint]]:
    """Points per series id from CSV text; see `read_series_file` for how ids are chosen.

    A future date or an implausible value is a line-numbered SourceError, or, when `dropped`
    is given (a live download), left out and described there.
    """
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        columns = _value_columns(header, name)
        ids, keep = _choose_ids(columns, name, series_id, stem)
        return _read_points(reader, ids, keep, _Screen(name, source, dropped))
    except csv.Error as error:
        raise SourceError(f"{name}, line {reader.line_num}: {error}") from None


def point_problem(point: SeriesPoint, today: date) -> str | None:
    """Why a point must never be stored: a future date, or a value no such series prints."""
    if point.date > today:
        return f"{point.series_id} {point.date} is in the future (today is {today})"
    problem = value_problem(point.value, "value", rate=not is_ratio_series(point.series_id))
    return None if problem is None else f"{point.series_id} {point.date}: {problem}"


class _Screen:
    """Where points are read from, and what happens to one that may never be stored."""

    def __init__(self, name: str, source: str, dropped: list[str] | None) -> None:
        self.name, self.source, self.dropped = name, source, dropped
        self.today = today_in_new_york()

    @staticmethod
    def bounds(series_id: str) -> tuple[float, float]:
        """P/E and P/B must be positive; rates may be zero or negative within RATE_BOUNDS."""
        return (1e-12, ABSURD_PRICE) if is_ratio_series(series_id) else RATE_BOUNDS

    def refuse(self, point: SeriesPoint, line: int) -> bool:
        """True when `point` must be left out (raising instead when nothing may be dropped)."""
        problem = point_problem(point, self.today)
        if problem is None:
            return False
        if self.dropped is None:
            raise SourceError(f"{self.name}, line {line}: {problem}")
        self.dropped.append(problem)
        return True


def _value_columns(header: list[str] | None, name: str) -> list[str]:
    if not header or header[0].strip().lower() not in _DATE_HEADERS:
        raise SourceError(f"{name}, line 1: header must start with date (like date,value)")
    columns = [cell.strip() for cell in header[1:]]
    if not columns or not all(columns):
        raise SourceError(f"{name}, line 1: every column after date needs a name")
    if len(set(columns)) != len(columns):
        raise SourceError(f"{name}, line 1: a column name appears twice")
    return columns


def _choose_ids(
    columns: list[str], name: str, series_id: str | None, stem: str | None
) -> tuple[list[str], list[bool]]:
    """The series id of each column and whether to keep it."""
    if len(columns) == 1:
        if series_id:
            return [series_id], [True]
        if columns[0].lower() == "value":
            if not stem:
                raise SourceError(f"{name}: a `date,value` file needs a series id")
            return [stem], [True]
        return columns, [True]
    if series_id is None:
        return columns, [True] * len(columns)
    if series_id not in columns:
        raise SourceError(f"{name}: no column {series_id!r} (columns: {', '.join(columns)})")
    return columns, [column == series_id for column in columns]


def _read_points(
    reader: Iterator[list[str]], ids: list[str], keep: list[bool], screen: _Screen
) -> dict[str, list[SeriesPoint]]:
    points: dict[str, list[SeriesPoint]] = {sid: [] for sid, k in zip(ids, keep, strict=True) if k}
    columns = [(sid, wanted, *screen.bounds(sid)) for sid, wanted in zip(ids, keep, strict=True)]
    seen: dict[date, int] = {}
    width = len(ids) + 1
    name, today = screen.name, screen.today
    for row in reader:
        line = getattr(reader, "line_num", 0)
        if not row:
            continue
        if len(row) != width:
            raise SourceError(f"{name}, line {line}: expected {width} fields, found {len(row)}")
        day = _parse_day(row[0], name, line)
        note_date(seen, day, name, line)
        for (sid, wanted, low, high), cell in zip(columns, row[1:], strict=True):
            value = _parse_value(cell, name, line)  # checked even when not kept
            if wanted and value is not None:
                point = SeriesPoint(sid, day, value, screen.source)
                # The common case inline (this loop sees every point); the full check if not.
                if (day <= today and low <= value <= high) or not screen.refuse(point, line):
                    _fill_missing_friday(points[sid], point)
                    points[sid].append(point)
    return points


def _fill_missing_friday(kept: list[SeriesPoint], saturday: SeriesPoint) -> None:
    """A Friday without a value (FRED's `.`) before a Saturday that has one takes its value.

    FRED's daily-7-day series (the Fed target) repeat Friday's value over the weekend, so the
    Saturday point is Friday's: without it a change made on a `.` Friday would count from the
    next weekday instead of the day it took effect.
    """
    if saturday.date.weekday() != 5:
        return
    friday = saturday.date - timedelta(days=1)
    if kept and kept[-1].date == friday - timedelta(days=1):
        kept.append(SeriesPoint(saturday.series_id, friday, saturday.value, saturday.source))


def _parse_day(text: str, name: str, line: int) -> date:
    cell = text.strip()
    try:
        if len(cell) == 10 and cell[4] == "-" and cell[7] == "-":
            return date.fromisoformat(cell)
    except ValueError:
        pass
    raise SourceError(f"{name}, line {line}: unparsable date {text!r} (expected YYYY-MM-DD)")


def _parse_value(text: str, name: str, line: int) -> float | None:
    if text.strip() == ".":  # FRED's "no observation"
        return None
    return parse_number(text, "value", name, line)
