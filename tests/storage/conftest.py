"""Every storage test runs on both engines: `fresh_db` is a SQLite and a PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from storage.db import Store, open_db


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_db(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A migrated database, new for each test: in-memory SQLite, or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        db = open_db(None)
    else:
        db = open_db(request.getfixturevalue("pg_url"))
    yield db
    db.close()
