"""Read a Kenneth R. French Data Library file: one zip holding one multi-table CSV.

The CSV (CRLF) opens with a preamble whose first line names the CRSP vintage ("This file was
created using the 202510 CRSP database."), then tables separated by blank lines: a title over
one or more lines, a header row starting with a comma, and rows dated `YYYYMM` (monthly) or
`YYYY` (annual). `-99.99` and `-999` mark missing cells (kept as NaN). Anything else (an HTML
page, a truncated zip, a row with the wrong number of cells) is one `SourceError` line and
nothing is returned.
"""

from __future__ import annotations

import io
import math
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from bot.sources.base import SourceError

_VINTAGE = re.compile(r"created (?:by \S+ )?using the (\d{6}) CRSP database", re.IGNORECASE)
MISSING = (-99.99, -999.0)
_MAX_BYTES = 50_000_000  # the largest library file is a few MB unpacked


@dataclass(frozen=True)
class FrenchTable:
    """One table: its title (lines joined), and values per date (month or year end) and column."""

    title: str
    frequency: str  # "monthly" or "annual"
    frame: pd.DataFrame


@dataclass(frozen=True)
class FrenchFile:
    """A parsed library file: the CRSP vintage (`202510`) and its tables in file order."""

    vintage: str
    tables: tuple[FrenchTable, ...]

    def table(self, words: str, frequency: str = "monthly") -> FrenchTable:
        """The first table of `frequency` whose title contains `words`; SourceError if none."""
        for table in self.tables:
            if words.lower() in table.title.lower() and table.frequency == frequency:
                return table
        raise SourceError(f"no {frequency} table titled '{words}' (has the layout changed?)")


def read_french_file(path: Path) -> FrenchFile:
    """A library file from disk: the zip as downloaded, or the CSV inside it."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SourceError(f"{path}: cannot read ({error.strerror or error})") from None
    return parse_french_bytes(data, str(path))


def parse_french_bytes(data: bytes, name: str) -> FrenchFile:
    """Parse a zip (one CSV inside) or the CSV itself; `name` is used in error messages."""
    text = _unzipped(data, name) if data[:2] == b"PK" else _decoded(data, name)
    return parse_french_csv(text, name)


def looks_like_french(data: bytes) -> bool:
    """Whether bytes are a zip or start like a library CSV (for `series import` to route)."""
    return data[:2] == b"PK" or bool(_VINTAGE.search(data[:300].decode("latin-1")))


def _unzipped(data: bytes, name: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if m.filename.lower().endswith(".csv")]
            if len(members) != 1:
                raise SourceError(f"{name}: expected one CSV in the zip, found {len(members)}")
            if members[0].file_size > _MAX_BYTES:
                raise SourceError(f"{name}: the CSV in the zip is implausibly large")
            return _decoded(archive.read(members[0]), name)
    except (zipfile.BadZipFile, EOFError, zlib.error) as error:
        raise SourceError(f"{name}: not a readable zip (truncated or damaged: {error})") from None


def _decoded(data: bytes, name: str) -> str:
    head = data[:200].lstrip().lower()
    if head.startswith(b"<"):  # <!DOCTYPE html>, <html>, <?xml ...>: an error page
        raise SourceError(f"{name}: an HTML page, not a French data library file")
    return data.decode("latin-1")  # the library writes ASCII; latin-1 never fails


def parse_french_csv(text: str, name: str) -> FrenchFile:
    """Parse the CSV text; SourceError naming the line for anything unexpected."""
    lines = text.splitlines()
    match = _VINTAGE.search(lines[0]) if lines else None
    if match is None:
        first = lines[0][:60] if lines else ""
        raise SourceError(f"{name}: no CRSP vintage on line 1 ({first!r}); not a library file")
    tables = _Tables(name).read(lines)
    if not tables:
        raise SourceError(f"{name}: no tables found")
    return FrenchFile(match[1], tuple(tables))


class _Tables:
    """Walks the lines once: titles gather until a header row, rows until a blank line."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: list[FrenchTable] = []
        self.title: list[str] = []
        self.header: list[str] | None = None
        self.rows: list[tuple[int, list[str]]] = []

    def read(self, lines: list[str]) -> list[FrenchTable]:
        for number, line in enumerate(lines[1:], start=2):
            self._line(number, line)
        self._close()
        return self.found

    def _line(self, number: int, line: str) -> None:
        if not line.strip():
            self._close()
        elif self.header is not None:
            self.rows.append((number, line.split(",")))
        elif line.startswith(","):
            if not self.title:
                raise SourceError(f"{self.name}, line {number}: a table without a title")
            self.header = [cell.strip() for cell in line.split(",")[1:]]
        else:
            self.title.append(line.strip())

    def _close(self) -> None:
        if self.header is not None:
            self.found.append(self._table())
        # A blank line ends a table or a preamble paragraph: the next title starts afresh.
        self.title, self.header, self.rows = [], None, []

    def _table(self) -> FrenchTable:
        assert self.header is not None
        title = " ".join(self.title)
        if not self.rows:
            raise SourceError(f"{self.name}: table '{title}' has no rows")
        width = len(self.header) + 1
        dates, values = [], []
        for number, cells in self.rows:
            if len(cells) != width:
                raise SourceError(
                    f"{self.name}, line {number}: expected {width} cells, found {len(cells)}"
                )
            dates.append(_period_end(cells[0], self.name, number))
            values.append([_cell(cell, self.name, number) for cell in cells[1:]])
        frequency = "monthly" if len(self.rows[0][1][0].strip()) == 6 else "annual"
        frame = pd.DataFrame(values, index=pd.DatetimeIndex(dates), columns=self.header)
        if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
            raise SourceError(f"{self.name}: table '{title}' has dates out of order")
        return FrenchTable(title, frequency, frame)


def _period_end(text: str, name: str, line: int) -> pd.Timestamp:
    """The last day of a `YYYYMM` month or a `YYYY` year."""
    cell = text.strip()
    try:
        if len(cell) == 6 and cell.isdigit() and 1 <= int(cell[4:]) <= 12:
            return pd.Timestamp(int(cell[:4]), int(cell[4:]), 1) + pd.offsets.MonthEnd(0)
        if len(cell) == 4 and cell.isdigit():
            return pd.Timestamp(int(cell), 12, 31)
    except ValueError:
        pass
    raise SourceError(f"{name}, line {line}: unparsable date {text!r} (expected YYYYMM or YYYY)")


def _cell(text: str, name: str, line: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SourceError(f"{name}, line {line}: not a number: {text.strip()!r}") from None
    if not math.isfinite(value):
        raise SourceError(f"{name}, line {line}: not a finite number: {text.strip()!r}")
    return math.nan if value in MISSING else value
