"""Reading Yahoo-format price CSVs and date,value series files."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from bot.sources.base import SourceError
from bot.sources.csv_dir import CsvDirSource, price_files, read_price_csv, symbol_for
from bot.sources.series_csv import read_series_file
from signals.models import PriceBar, SeriesPoint

DATA = Path(__file__).resolve().parent.parent / "data"
GOOD = DATA / "csv" / "good"
MALFORMED = DATA / "csv" / "malformed"
SERIES = DATA / "series"


def test_reads_full_rows_and_skips_rows_without_values() -> None:
    bars = read_price_csv(GOOD / "ABC.csv")
    assert bars[0] == PriceBar("ABC", date(2024, 1, 2), 10.0, 10.5, 9.5, 10.25, 9.75, 1000.0,
                               final=True, source="csv")  # fmt: skip
    assert [bar.date.day for bar in bars] == [2, 3, 5, 8, 9]  # the 4th has no value at all
    assert bars[2].adj_close is None and bars[2].close == 10.5
    assert bars[-1] == PriceBar("ABC", date(2024, 1, 9), adj_close=10.45, source="csv")


def test_missing_columns_and_null_cells_are_tolerated() -> None:
    bars = read_price_csv(GOOD / "xyz.csv")
    assert [bar.symbol for bar in bars] == ["XYZ"] * 3
    assert [(bar.date, bar.adj_close, bar.close) for bar in bars] == [
        (date(2023, 12, 29), 50.5, None),
        (date(2024, 1, 2), 51.0, None),
        (date(2024, 1, 5), 52.25, None),
    ]


def test_bom_crlf_and_pandas_style_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "spy.csv"
    text = "Date,Close,Volume\r\n2024-01-02 00:00:00-05:00,472.65,123\r\n2024-01-03,468.79,\r\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    bars = read_price_csv(path)
    assert [(b.date, b.close, b.volume) for b in bars] == [
        (date(2024, 1, 2), 472.65, 123.0),
        (date(2024, 1, 3), 468.79, None),
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_header.csv", r"bad_header.csv, line 1: header must start with Date"),
        ("bad_date.csv", r"bad_date.csv, line 4: unparsable date '2024-13-01'"),
        ("bad_number.csv", r"bad_number.csv, line 3: unparsable close 'abc'"),
        ("wrong_columns.csv", r"wrong_columns.csv, line 5: expected 7 fields, found 8"),
        ("duplicate_date.csv", r"duplicate_date.csv, line 4: duplicate date 2024-01-02 \(first"),
        ("unknown_column.csv", r"unknown_column.csv, line 1: unknown column 'Adj Clos'"),
        ("empty.csv", r"empty.csv, line 1: header must start with Date"),
    ],
)  # fmt: skip
def test_malformed_files_name_file_and_line(name: str, message: str) -> None:
    with pytest.raises(SourceError, match=message) as caught:
        read_price_csv(MALFORMED / name)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("cell", ["inf", "1e999", "--3"])
def test_non_finite_or_garbled_numbers_are_rejected(tmp_path: Path, cell: str) -> None:
    path = tmp_path / "X.csv"
    path.write_text(f"Date,Close\n2024-01-02,{cell}\n")
    with pytest.raises(SourceError, match="line 2"):
        read_price_csv(path)


def test_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_bytes(b"Date,Close\n2024-01-02,\xff\xfe\n")
    with pytest.raises(SourceError, match=r"X\.csv: not UTF-8 text"):
        read_price_csv(path)


def test_symbol_and_file_listing() -> None:
    assert symbol_for(Path("prices/^gspc.csv")) == "^GSPC"
    assert [p.name for p in price_files(GOOD)] == ["ABC.csv", "xyz.csv"]
    with pytest.raises(SourceError, match="is not a directory"):
        price_files(GOOD / "ABC.csv")


def test_csv_dir_source_fetches_from_start_and_reports_missing_files() -> None:
    result = CsvDirSource(GOOD).fetch({"ABC": date(2024, 1, 8), "NOPE": date(2024, 1, 1)})
    assert [bar.date.day for bar in result.bars["ABC"]] == [8, 9]
    assert "NOPE" in result.failures and not result.ok


def test_every_shared_price_row_with_a_value_is_read(shared_data: Path) -> None:
    for path in sorted((shared_data / "prices").glob("*.csv")):
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))[1:]
        expected = [row[0] for row in rows if any(cell for cell in row[1:])]
        assert [bar.date.isoformat() for bar in read_price_csv(path)] == expected, path.name


# Series files


def test_date_value_file_takes_the_id_given_or_the_file_name() -> None:
    assert read_series_file(SERIES / "pe_iwm.csv", "pe:IWM") == {
        "pe:IWM": [
            SeriesPoint("pe:IWM", date(2020, 1, 31), 25.1, "csv"),
            SeriesPoint("pe:IWM", date(2020, 2, 28), 22.4, "csv"),
            SeriesPoint("pe:IWM", date(2020, 4, 30), 18.9, "csv"),
        ]
    }
    assert list(read_series_file(SERIES / "pe_iwm.csv")) == ["pe_iwm"]


def test_wide_file_gives_one_series_per_column_or_the_chosen_one() -> None:
    points = read_series_file(SERIES / "wide.csv")
    assert {sid: [p.value for p in values] for sid, values in points.items()} == {
        "DFF": [5.33, 5.33, 5.32],
        "DGS10": [3.95, 4.05],
    }
    assert list(read_series_file(SERIES / "wide.csv", "DGS10")) == ["DGS10"]
    with pytest.raises(SourceError, match=r"no column 'DGS2' \(columns: DFF, DGS10\)"):
        read_series_file(SERIES / "wide.csv", "DGS2")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_date.csv", r"bad_date.csv, line 3: unparsable date '2020-02-30'"),
        ("bad_value.csv", r"bad_value.csv, line 3: unparsable value 'abc'"),
        ("bad_header.csv", r"bad_header.csv, line 1: header must start with date"),
    ],
)
def test_malformed_series_files_name_file_and_line(name: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        read_series_file(SERIES / name, "X")


def test_shared_fred_file_reads_every_column(shared_data: Path) -> None:
    path = shared_data / "macro" / "fred_rates_daily.csv"
    points = read_series_file(path)
    assert list(points) == ["DFF", "DFEDTARL", "DFEDTARU", "DGS3MO", "DGS2", "DGS10"]
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(points["DFEDTARU"]) == sum(1 for row in rows if row["DFEDTARU"])
    assert points["DFEDTARU"][0].date == date(2008, 12, 16)
