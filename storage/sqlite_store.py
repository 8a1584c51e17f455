"""The SQLite engine behind `Store`: a sqlite-utils `Database` (see storage/db.py).

Its own module so that importing `storage.db` (every storage module does, for `Store`)
does not import sqlite-utils: the commands that only read open a `ReadingStore`
(storage/sqlite_reading.py) and never need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlite_utils import Database

from storage.db import Store


class SqliteStore(Database, Store):
    """The SQLite engine: a sqlite-utils `Database` (connections, pragmas, migrations)."""

    engine = "sqlite"

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self.conn.executemany(sql, rows).rowcount

    def query(self, sql: str, parameters: Sequence[Any] | None = None) -> Iterator[dict]:
        return Database.query(self, sql, parameters)

    def has_table(self, name: str) -> bool:
        return self[name].exists()

    def days_between(self, later: str, earlier: str) -> str:
        return f"(julianday({later}) - julianday({earlier}))"
