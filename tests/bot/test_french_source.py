"""The French library's 5x5 file: parsed from the shared copies, fetched through a local stand-in.

The shared zips are the library's files unmodified (../shared/data/valuation); damaged variants
are written under tmp_path. Downloads go to `tests/fakes/french.py` on 127.0.0.1.
"""

from __future__ import annotations

import math
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from bot.sources.base import SourceError
from bot.sources.french import FrenchSource
from bot.sources.french_csv import parse_french_bytes, read_french_file
from storage.db import open_db
from storage.series import load_series, vintages
from tests.fakes.french import Answer, FakeFrench, serve_french

if not any(group.name == "series" for group in app.registered_groups):
    _register_commands()

TITLES = [
    "Average Value Weighted Returns -- Monthly",
    "Average Equal Weighted Returns -- Monthly",
    "Average Value Weighted Returns -- Annual",
    "Average Equal Weighted Returns -- Annual",
    "Number of Firms in Portfolios",
    "Average Market Cap",
    "For portfolios formed in June of year t Value Weight Average of BE/ME Calculated",
    "For portfolios formed in June of year t Value Weight Average of BE_FYt-1/ME_June t",
    "For portfolios formed in June of year t Value Weight Average of OP Calculated",
    "For portfolios formed in June of year t Value Weight Average of investment",
]


@pytest.fixture
def valuation_dir(shared_data: Path) -> Path:
    folder = shared_data / "valuation"
    if not (folder / "25_Portfolios_5x5_CSV_202510.zip").is_file():
        pytest.skip(f"the French library files are not in {folder} (see its README)")
    return folder


def csv_text(zip_path: Path) -> str:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.read(archive.namelist()[0]).decode("latin-1")


def invoke(db_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), *args], env=env)


def stored_values(db_path: Path) -> dict[str, pd.Series]:
    db = open_db(db_path)
    try:
        return load_series(db)
    finally:
        db.close()


def stored_ids(db_path: Path) -> list[str]:
    return sorted(stored_values(db_path))


@pytest.mark.parametrize(("vintage", "months"), [("202412", 1182), ("202510", 1192)])
def test_every_table_of_both_vintages(valuation_dir: Path, vintage: str, months: int) -> None:
    file = read_french_file(valuation_dir / f"25_Portfolios_5x5_CSV_{vintage}.zip")
    assert file.vintage == vintage
    assert [t.title[: len(title)] for t, title in zip(file.tables, TITLES, strict=True)] == TITLES
    for table in file.tables:
        assert list(table.frame.columns[:2]) == ["SMALL LoBM", "ME1 BM2"]
        assert table.frame.columns[-1] == "BIG HiBM" and table.frame.shape[1] == 25
        assert not table.frame.isna().any().any()  # the real files have no missing cell
    monthly = file.table("Number of Firms")
    assert len(monthly.frame) == months and str(monthly.frame.index[0].date()) == "1926-07-31"
    annual = file.table("Value Weighted Returns -- Annual", "annual").frame
    assert (
        str(annual.index[0].date()) == "1927-12-31" and str(annual.index[-1].date()) == "2024-12-31"
    )
    assert file.table("Average Market Cap").frame.loc["2024-12-31", "BIG HiBM"] > 0


def test_missing_cells_are_nan_and_the_csv_alone_parses(valuation_dir: Path) -> None:
    text = csv_text(valuation_dir / "25_Portfolios_5x5_CSV_202510.zip")
    lines = text.split("\r\n")
    row = next(i for i, line in enumerate(lines) if line.startswith("192607,"))
    cells = lines[row].split(",")
    cells[1], cells[3] = "  -99.99", "   -999"
    lines[row] = ",".join(cells)
    file = parse_french_bytes("\r\n".join(lines).encode(), "damaged.csv")
    frame = file.tables[0].frame
    assert math.isnan(frame.iloc[0, 0]) and math.isnan(frame.iloc[0, 2])
    assert frame.iloc[0, 1] == pytest.approx(-1.7006)
    assert file.tables[1].frame.notna().all().all()  # only that table's cells


def test_files_that_do_not_parse_are_one_line(valuation_dir: Path) -> None:
    good = (valuation_dir / "25_Portfolios_5x5_CSV_202510.zip").read_bytes()
    text = csv_text(valuation_dir / "25_Portfolios_5x5_CSV_202510.zip")
    damaged = {
        "html": (b"<!DOCTYPE html><html><body>Server error</body></html>", "an HTML page"),
        "truncated zip": (good[: len(good) // 2], "not a readable zip"),
        "no vintage": (text.split("\r\n", 1)[1].encode(), "no CRSP vintage on line 1"),
        "short row": (text.replace("192608,  -2.0206,", "192608,", 1).encode(), "expected 26"),
        "bad date": (text.replace("192609,", "1926-9,", 1).encode(), "unparsable date"),
        "bad number": (text.replace("-4.8291", "n/a", 1).encode(), "not a number: 'n/a'"),
    }
    for name, (data, words) in damaged.items():
        with pytest.raises(SourceError, match=words) as caught:
            parse_french_bytes(data, name)
        assert "\n" not in str(caught.value), name


def test_import_takes_the_csv_and_refuses_a_changed_layout(
    valuation_dir: Path, db_path: Path, tmp_path: Path
) -> None:
    text = csv_text(valuation_dir / "25_Portfolios_5x5_CSV_202412.zip")
    plain = tmp_path / "25_Portfolios_5x5.CSV"  # the CSV from the zip, imported offline
    plain.write_bytes(text.encode("latin-1"))
    assert invoke(db_path, "series", "import", str(plain)).exit_code == 0
    before = stored_values(db_path)
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(
        text.replace("Number of Firms in Portfolios", "Firm Counts").replace("202412", "202501"),
        "latin-1",
    )
    result = invoke(db_path, "series", "import", str(renamed))
    assert result.exit_code == 1
    assert "no monthly table titled 'Number of Firms'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    six = invoke(
        db_path, "series", "import", str(valuation_dir / "6_Portfolios_2x3_CSV_202412.zip")
    )
    assert six.exit_code == 1 and "expected 25 portfolios, found 6" in six.stderr
    after = stored_values(db_path)
    assert after.keys() == before.keys() and all(after[k].equals(before[k]) for k in before)


@pytest.fixture
def french(valuation_dir: Path) -> Iterator[FakeFrench]:
    data = (valuation_dir / "25_Portfolios_5x5_CSV_202510.zip").read_bytes()
    with serve_french(FakeFrench(zip_bytes=data)) as fake:
        yield fake


def french_env(fake: FakeFrench) -> dict[str, str]:
    # FRED_SERIES="," is an empty list (an empty value would mean the default series).
    return {"FRENCH_5X5_URL": fake.url, "FRED_SERIES": ",", "ROTATION_FETCH_RETRIES": "0"}


def test_update_downloads_and_stores_the_current_vintage(french: FakeFrench, db_path: Path) -> None:
    result = invoke(db_path, "series", "update", env=french_env(french))
    assert result.exit_code == 0, result.output
    assert "CRSP vintage 202510" in result.stdout
    assert stored_ids(db_path) == [
        "ff:pb_large", "ff:pb_micro", "ff:pb_micro_vs_large", "ff:pb_small", "ff:pb_small_vs_large",
    ]  # fmt: skip
    db = open_db(db_path)
    try:
        assert [
            (v["vintage"], v["last_date"]) for v in vintages(db, "french:25_Portfolios_5x5")
        ] == [("202510", "2025-10-31")]
    finally:
        db.close()


def test_html_page_and_truncated_zip_store_nothing(french: FakeFrench, db_path: Path) -> None:
    html = Answer(200, b"<!DOCTYPE html><html><body>Maintenance</body></html>", "text/html")
    cut = Answer(200, french.zip_bytes[:300_000], "application/x-zip-compressed")
    for answer, words in ((html, "an HTML page"), (cut, "not a readable zip")):
        french.fail_next(answer)
        result = invoke(db_path, "series", "update", env=french_env(french))
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [result.stderr.strip()]
        assert words in result.stderr and "nothing stored" in result.stderr
        assert "Traceback" not in result.output and stored_ids(db_path) == []


def test_server_errors_and_dropped_connections_are_retried(french: FakeFrench) -> None:
    slept: list[float] = []
    french.fail_next(
        Answer(503, retry_after="2"),
        Answer(200, french.zip_bytes[:1000], "application/x-zip-compressed", truncate=True),
        Answer(429),
    )
    source = FrenchSource(french.url, retries=3, sleep=slept.append, jitter=lambda: 0.0)
    assert source.fetch().vintage == "202510"
    assert slept == [2.0, 1.0, 2.0] and len(french.requests) == 4


def test_an_unreachable_host_is_retried_like_the_other_sources() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    slept: list[float] = []
    url = f"http://127.0.0.1:{port}/25_Portfolios_5x5_CSV.zip"
    source = FrenchSource(url, retries=2, sleep=slept.append, jitter=lambda: 0.0)
    with pytest.raises(SourceError, match="failed after 3 attempts: cannot reach"):
        source.fetch()
    assert slept == [0.5, 1.0]  # a network back within the backoff would have been no failure


def test_out_of_retries_or_not_found_is_one_line(french: FakeFrench) -> None:
    french.fail_next(Answer(503), Answer(503))
    source = FrenchSource(french.url, retries=1, sleep=lambda _: None)
    with pytest.raises(SourceError, match="failed after 2 attempts: HTTP 503"):
        source.fetch()
    missing = FrenchSource(french.url.replace("25_Portfolios", "26_Portfolios"), retries=3)
    with pytest.raises(SourceError, match="HTTP 404"):
        missing.fetch()
    assert len(french.requests) == 3  # a 404 is not retried


def test_a_csv_cut_at_a_line_boundary_is_refused(valuation_dir: Path, db_path: Path) -> None:
    text = csv_text(valuation_dir / "25_Portfolios_5x5_CSV_202510.zip")
    cut = text[: text.index("\r\n", text.index("\r\n197001,", text.index("Average Market Cap")))]
    path = db_path.parent / "cut.csv"
    path.write_bytes(cut.encode("latin-1"))
    result = invoke(db_path, "series", "import", str(path))
    assert result.exit_code == 1 and stored_ids(db_path) == []
    assert "no monthly table titled 'BE_FYt-1/ME_June'" in result.stderr
    # Cut inside a table the measure reads, with every later table still there: refused too.
    firms = text.index("Number of Firms in Portfolios")
    gap = text.index("\r\n202501,", firms)
    holed = text[:gap] + text[text.index("\r\n\r\n", gap) :]
    path.write_bytes(holed.encode("latin-1"))
    result = invoke(db_path, "series", "import", str(path))
    assert result.exit_code == 1 and "do not cover the same months" in result.stderr
    assert stored_ids(db_path) == []
