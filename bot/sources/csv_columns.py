"""Price CSVs read column-wise: the import's fast path, with the line-by-line reader behind it.

`pd.read_csv` parses a plain file in C, about ten times faster than `csv_dir`'s reader, but it
names no line and accepts what that reader refuses (a short row, a date with a time part).
So a file is parsed here only when it is plain: nothing but digits, `.`, `-`, commas and
newlines after a header `csv_dir` accepts, every line with the header's width, dates written
`YYYY-MM-DD`, every value finite and inside the bounds no check looks further than, no date
twice, off the calendar or in the future. Then the reader would have accepted it with the same
bars: pandas' float parser rounds correctly, as `float()` does. Anything else (a bad cell, a
marker such as `null`, a Windows line end) goes to `csv_dir.parse_price_rows`, which gives the
same bars or the same line-numbered error as before.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from bot import calendar as nyse
from bot.sources.base import SourceError
from bot.sources.csv_dir import (
    RowCheck,
    bounds,
    header_fields,
    parse_price_rows,
    read_csv_text,
    symbol_for,
)
from signals.models import PriceBar

FIELDS = ("open", "high", "low", "close", "adj_close", "volume")
_PLAIN_BODY = re.compile(r"[0-9.,\n-]*")
_NEWLINE, _COMMA, _DASH, _ZERO = ord("\n"), ord(","), ord("-"), ord("0")
# Before 3.1 pandas' default float parser could differ from float() in the last bit.
_PANDAS = tuple(int(part) for part in pd.__version__.split(".")[:2])
_FLOATS = {} if _PANDAS >= (3, 1) else {"float_precision": "round_trip"}


@dataclass(frozen=True)
class PriceColumns:
    """One file's bars column-wise: dates (datetime64[D], file order) and a float64 array per
    field of `FIELDS` (NaN where the bar has no value). Every bar has at least one value."""

    symbol: str
    days: np.ndarray
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.days)

    def day(self, at: int) -> date:
        """The date of the bar at position `at` (file order)."""
        return self.days[at].astype(object)

    def series(self, field: str) -> pd.Series:
        """One field as a float64 Series on the bars' dates."""
        index = pd.DatetimeIndex(self.days, name="date")
        return pd.Series(self.values[field], index=index, dtype="float64")

    def iso_days(self) -> list[str]:
        """The dates as `YYYY-MM-DD` text, as stored."""
        return np.datetime_as_string(self.days, unit="D").tolist()

    def cells(self, field: str) -> list[float | None]:
        """One field as stored: Python floats, None where the bar has no value."""
        column = self.values[field]
        missing = np.isnan(column)
        if not missing.any():  # most columns: tolist gives the same floats, without objects
            return column.tolist()
        cells = column.astype(object)
        cells[missing] = None
        return cells.tolist()


def columns_of_bars(symbol: str, bars: list[PriceBar]) -> PriceColumns:
    """The same bars column-wise (the line-by-line reader's result)."""
    days = np.array([bar.date for bar in bars], dtype="datetime64[D]")
    values = {
        field: np.array([getattr(bar, field) for bar in bars], dtype=np.float64) for field in FIELDS
    }
    return PriceColumns(symbol, days, values)


def read_price_columns(path: Path, check: RowCheck) -> PriceColumns:
    """A Yahoo-format CSV's bars (as `csv_dir.read_price_csv` reads them), column-wise."""
    text = read_csv_text(path)
    symbol = symbol_for(path)
    columns = plain_columns(text, symbol, check)
    if columns is None:
        bars = parse_price_rows(csv.reader(io.StringIO(text)), symbol, str(path), check)
        columns = columns_of_bars(symbol, bars)
    return columns


def plain_columns(text: str, symbol: str, check: RowCheck) -> PriceColumns | None:
    """The file's bars when it is plain (see the module's docstring), else None."""
    header, _, body = text.partition("\n")
    if not body or '"' in header or "\r" in header or not _PLAIN_BODY.fullmatch(body):
        return None
    try:
        fields = header_fields(header.split(","), "")
    except SourceError:
        return None
    raw = np.frombuffer(body.encode("ascii"), dtype=np.uint8)
    starts = _line_starts(raw, len(fields) + 1)
    days = None if starts is None else _plain_days(raw, starts)
    if days is None or not _dates_allowed(days, symbol, check):
        return None
    frame = _read_values(body, fields, len(days))
    return None if frame is None else _columns(symbol, days, frame, fields)


def _read_values(body: str, fields: list[str], rows: int) -> pd.DataFrame | None:
    """The body's values as float64 (the dates, read from the bytes, are skipped), or None when
    a cell is not a number."""
    try:
        frame = pd.read_csv(
            io.StringIO(body),
            header=None,
            names=["date", *fields],
            usecols=fields,
            dtype=dict.fromkeys(fields, "float64"),
            keep_default_na=False,
            na_values=[""],
            index_col=False,
            **_FLOATS,
        )
    except (ValueError, pd.errors.ParserError):
        return None
    return frame if len(frame) == rows else None


def _line_starts(raw: np.ndarray, width: int) -> np.ndarray | None:
    """Where each non-blank line of the body starts, when each holds `width` fields (pandas
    would cut a long line and pad a short one silently); else None."""
    ends = np.flatnonzero(raw == _NEWLINE)
    if not len(raw) or raw[-1] != _NEWLINE:
        ends = np.append(ends, len(raw))
    commas = np.flatnonzero(raw == _COMMA).searchsorted(ends)  # commas before each line end
    per_line = np.diff(commas, prepend=0)
    filled = np.diff(ends, prepend=-1) > 1
    if not np.all(per_line[filled] == width - 1):
        return None
    return (np.concatenate([[0], ends[:-1] + 1]))[filled]


def _plain_days(raw: np.ndarray, starts: np.ndarray) -> np.ndarray | None:
    """The lines' dates when each is written exactly `YYYY-MM-DD` (year 1 or later) before
    the line's first comma, else None. Read from the bytes: converting pandas' text cells
    cost twice what pandas took to read the file."""
    if not len(starts) or starts[-1] + 10 >= len(raw) or not np.all(raw[starts + 10] == _COMMA):
        return None
    chars = raw[starts[:, None] + np.arange(10)]
    dashes = chars[:, [4, 7]] == _DASH
    digits = chars[:, [0, 1, 2, 3, 5, 6, 8, 9]] - _ZERO  # unsigned: below "0" wraps
    if not (dashes.all() and (digits <= 9).all()):
        return None
    number = digits.astype(np.int64) * np.array([1000, 100, 10, 1, 10, 1, 10, 1])
    year, month, day = number[:, :4].sum(axis=1), number[:, 4:6].sum(axis=1), number[:, 6:].sum(1)
    if year.min() < 1 or month.min() < 1 or month.max() > 12 or day.min() < 1:
        return None
    first = ((year - 1970) * 12 + month - 1).astype("datetime64[M]").astype("datetime64[D]")
    after = (first.astype("datetime64[M]") + 1).astype("datetime64[D]")
    days = first + (day - 1)
    return days if np.all(days < after) else None  # no 30 February


def _dates_allowed(days: np.ndarray, symbol: str, check: RowCheck) -> bool:
    """No date twice, none in the future or off the calendar (`calendar_problems` finds none)."""
    rising = bool(np.all(days[1:] > days[:-1]))  # a file oldest first needs no sort to tell
    if not rising and len(np.unique(days)) != len(days):
        return False
    if days.max() > np.datetime64(check.today):
        return False
    weekend = (days.astype(np.int64) + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    if symbol in check.weekday_symbols:
        return not weekend.any()
    sessions = _session_days()
    known = (days >= np.datetime64(nyse.CALENDAR_START)) & (days <= sessions[-1])
    # np.isin(days, sessions) without sorting both: the sessions are sorted already.
    at = np.minimum(sessions.searchsorted(days), len(sessions) - 1)
    off = sessions[at] != days
    return not (off & (weekend | known)).any()


@cache
def _session_days() -> np.ndarray:
    """Every NYSE session, sorted, as datetime64[D]."""
    return np.array(nyse.sessions_in_order(), dtype="datetime64[D]")


def _columns(
    symbol: str, days: np.ndarray, frame: pd.DataFrame, fields: list[str]
) -> PriceColumns | None:
    """The bars with a value, when every value lies inside its field's bounds, else None."""
    empty = np.full(len(days), np.nan)
    values = {field: empty for field in FIELDS}
    for field in fields:
        column = frame[field].to_numpy(dtype=np.float64)
        low, high = bounds(symbol, field)
        present = column[~np.isnan(column)]
        if not np.all(np.isfinite(present) & (present > low) & (present < high)):
            return None  # the reader decides, and names the line
        values[field] = column
    kept = ~np.all(np.isnan(np.vstack([values[field] for field in fields])), axis=0)
    if kept.all():
        return PriceColumns(symbol, days, values)
    return PriceColumns(symbol, days[kept], {f: column[kept] for f, column in values.items()})
