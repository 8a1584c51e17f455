"""Daily bars from a directory of Yahoo-format CSVs (`Date,Open,High,Low,Close,Adj Close,Volume`).

Tolerant of what real downloads look like: any subset of the price columns, empty (or `null`,
`NaN`) cells, weekends and holidays absent, a date with a time part as pandas writes it. Rows
with no value at all are skipped. Anything else malformed raises `SourceError` naming the file
and line, so a bad file never imports halfway.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.sources.bar_checks import (
    WEEKDAY_SYMBOLS,
    calendar_problems,
    today_in_new_york,
    values_problem,
)
from bot.sources.base import FetchResult, SourceError
from bot.sources.universe import normalize_symbol
from signals.models import PriceBar
from signals.quality import ABSURD_PRICE, RATE_BOUNDS, RATE_SYMBOLS

# Header cell (lower case, spaces and underscores removed) -> PriceBar field.
_COLUMNS = {
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adjclose": "adj_close",
    "volume": "volume",
}
_FIELDS = ("open", "high", "low", "close", "adj_close", "volume")
MISSING = frozenset({"", "null", "nan", "NaN", "NA", "N/A"})
_EMPTY: list[float | None] = [None] * 6
EXPECTED_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def symbol_for(path: Path) -> str:
    """The symbol a price file holds: its name without `.csv`, upper-cased."""
    return path.stem.upper()


def checked_symbol(path: Path) -> str:
    """The symbol a price file holds; SourceError when its name is not a valid symbol."""
    try:
        return normalize_symbol(path.stem)
    except ValueError as error:
        raise SourceError(
            f"{path.parent / repr(path.name)[1:-1]}: the file name is not a symbol ({error}); "
            "rename the file, e.g. IWM.csv"
        ) from None


def price_files(directory: Path) -> list[Path]:
    """Every `*.csv` file directly inside `directory`, sorted by name."""
    if not directory.is_dir():
        raise SourceError(f"{directory} is not a directory")
    return sorted(p for p in directory.iterdir() if p.suffix.lower() == ".csv" and p.is_file())


def read_csv_text(path: Path) -> str:
    """A CSV file's text (a BOM dropped); SourceError if it is unreadable or not UTF-8."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise SourceError(f"{path}: cannot read ({error.strerror or error})") from None


@dataclass(frozen=True)
class RowCheck:
    """What every row must satisfy: a session of its calendar, not after `today`."""

    today: date
    weekday_symbols: Collection[str] = WEEKDAY_SYMBOLS

    @classmethod
    def now(cls, weekday_symbols: Collection[str] = WEEKDAY_SYMBOLS) -> RowCheck:
        """Checks against today's date in New York."""
        return cls(today_in_new_york(), weekday_symbols)


def read_price_csv(
    path: Path, symbol: str | None = None, check: RowCheck | None = None
) -> list[PriceBar]:
    """Bars of one Yahoo-format CSV (source "csv", final), oldest first as in the file."""
    reader = csv.reader(io.StringIO(read_csv_text(path)))
    return parse_price_rows(reader, symbol or symbol_for(path), str(path), check)


def parse_price_rows(
    reader: Iterator[list[str]], symbol: str, name: str, check: RowCheck | None = None
) -> list[PriceBar]:
    """Bars from CSV rows (header first); `name` is used in error messages."""
    try:
        header = next(reader, None)
        fields = header_fields(header, name)
        return _bars(reader, fields, symbol, name, check or RowCheck.now())
    except csv.Error as error:
        line = getattr(reader, "line_num", "?")
        raise SourceError(f"{name}, line {line}: {error}") from None


def header_fields(header: list[str] | None, name: str) -> list[str]:
    """PriceBar field per column after `Date`; reject anything that is not a Yahoo header."""
    if not header or header[0].strip().lower() != "date":
        raise SourceError(f"{name}, line 1: header must start with Date (like {EXPECTED_HEADER})")
    fields: list[str] = []
    for cell in header[1:]:
        field = _COLUMNS.get(cell.strip().lower().replace(" ", "").replace("_", ""))
        if field is None:
            raise SourceError(
                f"{name}, line 1: unknown column {cell!r} (expected {EXPECTED_HEADER})"
            )
        if field in fields:
            raise SourceError(f"{name}, line 1: column {cell!r} appears twice")
        fields.append(field)
    if not fields:
        raise SourceError(f"{name}, line 1: no price columns (expected {EXPECTED_HEADER})")
    return fields


def _bars(
    reader: Iterator[list[str]], fields: list[str], symbol: str, name: str, check: RowCheck
) -> list[PriceBar]:
    width = len(fields) + 1
    # Position of each file column among PriceBar's six values, so a bar is built positionally,
    # and the open interval each value must lie in (checked inline: this loop is the hot path).
    slots = [(_FIELDS.index(field), field, *bounds(symbol, field)) for field in fields]
    seen: dict[date, int] = {}
    bars = []
    for row in reader:
        line = getattr(reader, "line_num", 0)
        if not row:
            continue  # blank line, e.g. at the end of a hand-edited file
        if len(row) != width:
            raise SourceError(f"{name}, line {line}: expected {width} fields, found {len(row)}")
        day = _parse_date(row[0], name, line)
        note_date(seen, day, name, line)
        values: list[float | None] = [None] * 6
        for (slot, field, low, high), cell in zip(slots, row[1:], strict=True):
            if not cell:
                continue
            # float() inline for the common case (a call per cell costs a tenth of the import);
            # markers, NaN, inf (value - value is not 0) and garbage take parse_number.
            try:
                value = float(cell)
            except ValueError:
                value = None
            if value is None or value - value != 0:
                value = parse_number(cell, field, name, line)
            values[slot] = value
            if value is not None and not low < value < high:
                _refuse_values(symbol, values, f"{name}, line {line}")
        if values != _EMPTY:
            bars.append(PriceBar(symbol, day, *values, True, "csv"))
    _check_dates(symbol, seen, check, name)
    return bars


def bounds(symbol: str, field: str) -> tuple[float, float]:
    """Values outside this open interval get the full check (and are then refused)."""
    if field == "volume":
        return (-0.5, math.inf)
    if symbol in RATE_SYMBOLS:
        low, high = RATE_BOUNDS
        return (low - 1e-9, high + 1e-9)
    return (0.0, ABSURD_PRICE)


def _refuse_values(symbol: str, values: list[float | None], where: str) -> None:
    problem = values_problem(symbol, tuple(values))
    if problem is not None:
        raise SourceError(f"{where}: {symbol} {problem}")


def _check_dates(symbol: str, seen: dict[date, int], check: RowCheck, name: str) -> None:
    """SourceError naming the first line dated off the calendar or in the future."""
    weekdays = symbol in check.weekday_symbols
    problems = calendar_problems(seen.keys(), check.today, weekdays_only=weekdays)
    if problems:
        day = min(problems, key=seen.__getitem__)
        raise SourceError(f"{name}, line {seen[day]}: {symbol} {problems[day]}")


def note_date(seen: dict[date, int], day: date, name: str, line: int) -> None:
    """Remember on which line `day` appeared; a second appearance is an error."""
    if day in seen:
        raise SourceError(f"{name}, line {line}: duplicate date {day} (first on line {seen[day]})")
    seen[day] = line


def _parse_date(text: str, name: str, line: int) -> date:
    """`YYYY-MM-DD`, optionally followed by a time part (`2024-01-02 00:00:00-05:00`)."""
    cell = text.strip()
    head = cell[:10]
    has_time = len(cell) > 10 and cell[10] in " T"
    if len(head) == 10 and head[4] == "-" and head[7] == "-" and (len(cell) == 10 or has_time):
        try:
            return date.fromisoformat(head)
        except ValueError:
            pass
    raise SourceError(f"{name}, line {line}: unparsable date {text!r} (expected YYYY-MM-DD)")


def parse_number(text: str, field: str, name: str, line: int) -> float | None:
    """A finite number, None for a missing-value marker, else SourceError naming file and line."""
    cell = text.strip()
    if cell in MISSING:
        return None
    try:
        value = float(cell)
    except ValueError:
        raise SourceError(f"{name}, line {line}: unparsable {field} {text!r}") from None
    if not math.isfinite(value):
        raise SourceError(f"{name}, line {line}: {field} {text!r} is not a finite number")
    return value


class CsvDirSource:
    """A `PriceSource` reading `<SYMBOL>.csv` files from one directory (offline use, tests)."""

    name = "csv"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def fetch(self, starts: dict[str, date]) -> FetchResult:
        """Bars per symbol from its start date; a symbol without a file is a failure."""
        files = {symbol_for(path): path for path in price_files(self.directory)}
        result = FetchResult()
        for symbol, start in starts.items():
            path = files.get(symbol.upper())
            if path is None:
                result.failures[symbol] = f"no {symbol}.csv in {self.directory}"
                continue
            bars = [bar for bar in read_price_csv(path, symbol) if bar.date >= start]
            _store_result(result, symbol, bars, path)
        return result


def _store_result(result: FetchResult, symbol: str, bars: Iterable[PriceBar], path: Path) -> None:
    kept = list(bars)
    if kept:
        result.bars[symbol] = kept
    else:
        result.failures[symbol] = f"{path} has no rows from the requested date"
