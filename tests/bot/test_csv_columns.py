"""The import's column-wise CSV reader gives exactly what the line-by-line reader gives.

Every case is read both ways: the same bars (dates, values, missing cells) or the same
line-numbered error. The fast path must also be taken for plain files, or it is no fast path.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import calendar as nyse
from bot.sources.base import SourceError
from bot.sources.csv_columns import FIELDS, plain_columns, read_price_columns
from bot.sources.csv_dir import RowCheck, read_csv_text, read_price_csv, symbol_for

TODAY = date(2024, 3, 1)
CHECK = RowCheck(TODAY)
# NYSE sessions of January 2024 (the 15th, Martin Luther King Jr. Day, is a holiday).
SESSIONS = (2, 3, 4, 5, 8, 9, 10, 11, 12, 16, 17, 18, 19, 22, 23, 24, 25, 26, 29, 30, 31)
DAYS = [date(2024, 1, day).isoformat() for day in SESSIONS]
HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"


def _plain(rows: int = 6) -> str:
    lines = [f"{day},10.5,11.25,10.125,11,10.75,12345" for day in DAYS[:rows]]
    return "\n".join([HEADER, *lines]) + "\n"


def _both(path: Path) -> tuple[object, object]:
    """What the column-wise reader and the line-by-line reader make of one file."""
    return _columns_outcome(path), _reference_outcome(path)


def _columns_outcome(path: Path) -> object:
    try:
        columns = read_price_columns(path, CHECK)
    except SourceError as error:
        return str(error)
    return columns.symbol, columns.iso_days(), [columns.cells(field) for field in FIELDS]


def _reference_outcome(path: Path) -> object:
    try:
        bars = read_price_csv(path, check=CHECK)
    except SourceError as error:
        return str(error)
    days = [bar.date.isoformat() for bar in bars]
    return symbol_for(path), days, [[getattr(bar, field) for bar in bars] for field in FIELDS]


def _write(tmp_path: Path, text: str, name: str = "IWM.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def _taken(path: Path) -> bool:
    return plain_columns(read_csv_text(path), symbol_for(path), CHECK) is not None


PLAIN = {
    "full rows": _plain(),
    "no trailing newline": _plain().rstrip("\n"),
    "empty cells and a row without values": (
        f"{HEADER}\n{DAYS[0]},,,,11,,\n{DAYS[1]},,,,,,\n{DAYS[2]},1,2,0.5,1.5,1.25,0\n"
    ),
    "a column subset, lower case": f"date,adj_close\n{DAYS[0]},3.25\n{DAYS[1]},3.5\n",
    "blank lines": f"Date,Close\n\n{DAYS[0]},1.5\n\n\n{DAYS[1]},1.75\n\n",
    "dates out of order": f"Date,Close\n{DAYS[3]},1.5\n{DAYS[1]},1.75\n{DAYS[2]},2\n",
    "odd but valid numbers": f"Date,Close,Volume\n{DAYS[0]},1.,0\n{DAYS[1]},.5,00012\n",
    "many digits": f"Date,Close\n{DAYS[0]},0.1000000000000000055511151231257827\n",
    # Before 1990 the calendar knows no holidays: only weekends are off it.
    "a leap day": "Date,Close\n2024-02-28,1\n2024-02-29,2\n",
    "a holiday before 1990": "Date,Close\n1985-12-24,1\n1985-12-25,2\n1985-12-26,3\n",
    # Read as text, line ends are already newlines for both readers.
    "windows line ends": f"Date,Close\r\n{DAYS[0]},1.5\r\n{DAYS[1]},1.75\r\n",
}


@pytest.mark.parametrize("text", PLAIN.values(), ids=PLAIN.keys())
def test_plain_files_take_the_fast_path_with_the_same_bars(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    assert _taken(path)
    fast, reference = _both(path)
    assert fast == reference


ODD = {
    "null and NaN markers": f"Date,Close\n{DAYS[0]},null\n{DAYS[1]},NaN\n{DAYS[2]},1\n",
    "spaces around a number": f"Date,Close\n{DAYS[0]}, 1.5 \n",
    "exponent": f"Date,Close\n{DAYS[0]},1e2\n",
    "underscores": f"Date,Volume\n{DAYS[0]},1_000\n",
    "quoted cells": f'Date,Close\n"{DAYS[0]}","1.5"\n',
    "a time part": f"Date,Close\n{DAYS[0]} 00:00:00-05:00,1.5\n",
    "header only": "Date,Close\n",
    "a short row": f"{HEADER}\n{DAYS[0]},1,2,0.5,1.5,1.25,7\n{DAYS[1]},1,2,0.5,1.5,1.25\n",
    "a long row": f"Date,Close\n{DAYS[0]},1,5\n{DAYS[1]},2\n",
    "long and short rows": f"Date,Close,Volume\n{DAYS[0]},1,5,6\n{DAYS[1]},2\n",
    "an unparsable number": f"Date,Close\n{DAYS[0]},1.2.3\n",
    "a lone dash": f"Date,Close\n{DAYS[0]},-\n",
    "a month out of range": "Date,Close\n2024-13-01,1\n",
    "a day out of range": "Date,Close\n2023-02-29,1\n",
    "year zero": "Date,Close\n0000-01-03,1\n",
    "a short date": "Date,Close\n2024-1-02,1\n",
    "a duplicate date": f"Date,Close\n{DAYS[0]},1\n{DAYS[1]},2\n{DAYS[0]},3\n",
    "month zero": "Date,Close\n2024-00-10,1\n",
    "day zero": "Date,Close\n2024-01-00,1\n",
    "31 April": "Date,Close\n2024-04-31,1\n",
    "a long date": "Date,Close\n2024-01-022,1\n",
    "no date": f"Date,Close\n{DAYS[0]},1\n,2\n",
    "only blank lines": "Date,Close\n\n\n",
    "a date twice in a row": f"Date,Close\n{DAYS[0]},1\n{DAYS[1]},2\n{DAYS[1]},3\n",
    "a weekend before 1990": "Date,Close\n1985-12-27,1\n1985-12-28,2\n",
    "a holiday after days in order": f"Date,Close\n{DAYS[8]},1\n2024-01-15,2\n{DAYS[9]},3\n",
    "a holiday": f"Date,Close\n{DAYS[0]},1\n2024-01-15,2\n",
    "a weekend": "Date,Close\n2024-01-06,2\n",
    "a future date": "Date,Close\n2024-03-04,2\n",
    "a zero price": f"Date,Close\n{DAYS[0]},0\n",
    "a negative price": f"Date,Close\n{DAYS[0]},-1.5\n",
    "an absurd price": f"Date,Close\n{DAYS[0]},1{'0' * 12}\n",
    "an infinite price": f"Date,Close\n{DAYS[0]},1{'0' * 400}\n",
    "a negative volume": f"Date,Volume\n{DAYS[0]},-3\n",
    "a bad header": f"Date,Clos\n{DAYS[0]},1\n",
    "a header twice": f"Date,Close,close\n{DAYS[0]},1,2\n",
}


@pytest.mark.parametrize("text", ODD.values(), ids=ODD.keys())
def test_anything_odd_gets_the_line_by_line_readers_answer(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, text)
    assert not _taken(path)
    fast, reference = _both(path)
    assert fast == reference


def test_the_sessions_written_here_are_the_calendars() -> None:
    listed = nyse.sessions_between(date(2024, 1, 1), date(2024, 1, 31))
    assert [day.isoformat() for day in listed] == DAYS


def test_rates_and_weekday_symbols_keep_their_own_checks(tmp_path: Path) -> None:
    rate = _write(tmp_path, f"Date,Close\n{DAYS[0]},-0.05\n{DAYS[1]},4.5\n", "^IRX.csv")
    vix = _write(tmp_path, f"Date,Close\n{DAYS[0]},13\n2024-01-15,14\n", "^VIX.csv")
    rate_low = _write(tmp_path, f"Date,Close\n{DAYS[0]},-40\n", "^TNX.csv")
    for path in (rate, vix, rate_low):
        fast, reference = _both(path)
        assert fast == reference
    assert _taken(vix)  # CBOE publishes on some NYSE holidays: only weekends are refused


ALPHABET = '0123456789.,-\n \r"eE+_naNul:T'


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 400), st.sampled_from(ALPHABET), st.sampled_from("ird")),
        min_size=1,
        max_size=3,
    )
)
def test_any_edit_of_a_plain_file_reads_the_same_both_ways(
    tmp_path: Path, edits: list[tuple[int, str, str]]
) -> None:
    """Insert, replace or delete characters anywhere after the header: same bars or error."""
    text = _plain()
    start = len(HEADER) + 1
    for at, char, kind in edits:
        spot = start + at % (len(text) - start)
        text = {
            "i": text[:spot] + char + text[spot:],
            "r": text[:spot] + char + text[spot + 1 :],
            "d": text[:spot] + text[spot + 1 :],
        }[kind]
    fast, reference = _both(_write(tmp_path, text))
    assert fast == reference


def test_the_shared_data_reads_the_same_both_ways(shared_data: Path) -> None:
    check = RowCheck.now()
    for name in ("IWC.csv", "^TNX.csv", "^VIX.csv"):
        path = shared_data / "prices" / name
        assert plain_columns(read_csv_text(path), symbol_for(path), check) is not None, name
        columns = read_price_columns(path, check)
        bars = read_price_csv(path, check=check)
        assert columns.iso_days() == [bar.date.isoformat() for bar in bars]
        for field in FIELDS:
            assert columns.cells(field) == [getattr(bar, field) for bar in bars], (name, field)
