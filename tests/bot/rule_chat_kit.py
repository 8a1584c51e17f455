"""A database with real IWM and IWB prices (from ../shared/data), copied fresh for each test."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from bot.sources.csv_dir import CsvDirSource
from storage.db import open_db
from storage.prices import upsert_bars

SPREAD_LINE = "new spread IWM IWB 42d above 400bps"
SPREAD_ID = "iwm-iwb-42d-above-400bps"


@pytest.fixture(scope="module")
def real_prices_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """IWM and IWB since their first bars, in a closed SQLite file (built once per module)."""
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "prices").is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA} (see its README)")
    path = tmp_path_factory.mktemp("rules") / "template.db"
    db = open_db(path)
    source = CsvDirSource(SHARED_DATA / "prices")
    for symbol in ("IWM", "IWB"):
        upsert_bars(db, source.fetch({symbol: date(1900, 1, 1)}).bars[symbol])
    db.close()
    return path


@pytest.fixture
def prices_db(real_prices_file: Path, tmp_path: Path) -> Path:
    """A copy of the real prices for one test to change."""
    path = tmp_path / "rotation.db"
    shutil.copy(real_prices_file, path)
    return path
