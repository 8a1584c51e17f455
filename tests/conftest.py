"""Fixtures shared by every test: a fresh real SQLite database and the shared real data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from storage.db import open_db

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "data"


@pytest.fixture
def fresh_db() -> Iterator[Database]:
    """A migrated in-memory database, new for each test."""
    db = open_db(None)
    yield db
    db.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A path for a real on-disk database (WAL), for tests that reopen it or run the CLI."""
    return tmp_path / "rotation.db"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the project; skip when this checkout has no shared data."""
    if not (SHARED_DATA / "prices").is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA} (see its README)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep a developer's own .env and variables out of tests."""
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith(("ROTATION_", "DISCORD_", "SLACK_", "FRED_", "DELIVERY_")):
            monkeypatch.delenv(name, raising=False)
