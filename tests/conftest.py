"""Fixtures shared by every test: fresh real databases (SQLite, PostgreSQL) and the real data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlite_utils import Database

from storage.db import open_db
from tests.pg_cluster import Cluster, ClusterUnavailable, start_cluster

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
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster for the session (see tests/pg_cluster.py).

    Skips with the reason on a machine without PostgreSQL; under `CI=true` that is a failure,
    so CI never passes without the PostgreSQL half of the storage tests.
    """
    try:
        cluster = start_cluster()
    except ClusterUnavailable as error:
        postgres_unavailable(str(error))
    yield cluster
    cluster.stop()


def postgres_unavailable(why: str) -> NoReturn:
    """Skip a PostgreSQL test with the reason; fail it under `CI=true`."""
    reason = f"PostgreSQL tests need a local PostgreSQL server: {why}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """The `postgresql://` URL of a fresh migrated database, dropped after the test."""
    url = pg_cluster.new_database()
    yield url
    pg_cluster.drop_database(url)


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
        if name.startswith(("ROTATION_", "DISCORD_", "SLACK_", "FRED_", "FRENCH_", "DELIVERY_")):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _fresh_log_limits() -> None:
    """Each test sees the first log line of every kind (they are limited to one a minute)."""
    from bot.service.log_limits import forget_logged

    forget_logged()
