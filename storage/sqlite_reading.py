"""A SQLite `Store` for the commands that only read (`status`, `outbox`, `rules list`).

Opening the database through sqlite-utils imports its whole `Database` (click, pluggy,
dateutil) and scans the installed packages for its plugins: more than the rest of a
`status` start. `open_reading` opens the file with sqlite3 alone when it is ready to read
as it stands: it exists, is a database already in WAL mode, and has every migration
applied. Otherwise (a first start, a pending migration, a file that is not a database) it
is `open_db`, with the same migrations and the same errors.

Which migrations the code registers is known by importing every storage module (about a
tenth of a `rules list` start): the names are kept in `<database>.migrations.json`, keyed on
the size and modification time of every storage module, so only a start after the code
changed imports them all (and rewrites the file). Deleting the file is always safe.

The `ReadingStore` runs a SELECT on the connection itself, as sqlite-utils would; any other
statement, a transaction, or anything else asked of it goes to a sqlite-utils store on the
same connection, made then: what it writes is written exactly as before.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from storage.db import Store, migration_sets, open_db
from storage.urls import is_database_url

log = logging.getLogger(__name__)
_STORAGE = Path(__file__).parent


class ReadingStore(Store):
    """SELECTs on sqlite3 directly; everything else through sqlite-utils, made on first need."""

    engine = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._full: Store | None = None

    def full(self) -> Store:
        """A sqlite-utils store on the same connection (sqlite-utils imported now)."""
        if self._full is None:
            from storage.sqlite_store import SqliteStore

            self._full = SqliteStore(self.conn)
        return self._full

    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Any:
        if not _is_select(sql):
            return self.full().execute(sql, parameters)
        return self.conn.execute(sql, *_arguments(parameters))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self.full().executemany(sql, rows)

    def query(self, sql: str, parameters: Sequence[Any] | None = None) -> Iterator[dict]:
        if not _is_select(sql):
            return self.full().query(sql, parameters)
        cursor = self.conn.execute(sql, *_arguments(parameters))
        keys = [column[0] for column in cursor.description]
        if len(set(keys)) < len(keys):  # sqlite-utils renames repeated columns: let it
            cursor.close()
            return self.full().query(sql, parameters)
        return (dict(zip(keys, row, strict=True)) for row in cursor)

    def atomic(self) -> AbstractContextManager[Any]:
        return self.full().atomic()

    def has_table(self, name: str) -> bool:
        found = self.execute(
            "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", [name]
        )
        return found.fetchone() is not None

    def table_names(self) -> list[str]:
        rows = self.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return [row[0] for row in rows]

    def days_between(self, later: str, earlier: str) -> str:
        return f"(julianday({later}) - julianday({earlier}))"

    def close(self) -> None:
        self.conn.close()

    def __getattr__(self, name: str) -> Any:  # anything else sqlite-utils' Database offers
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.full(), name)


def open_reading(path: str | Path | None) -> Store:
    """The database at `path` for reading: a `ReadingStore` when it is ready as it stands,
    else `open_db(path)` (created, migrated, or its error)."""
    if path is None or is_database_url(path) or not Path(path).is_file():
        return open_db(path)
    conn = sqlite3.connect(str(path))
    try:
        store = _ready(conn, Path(path))
    except sqlite3.DatabaseError:
        store = None  # open_db meets the same problem and reports it as it always has
    if store is None:
        conn.close()
        return open_db(path)
    return store


def _ready(conn: sqlite3.Connection, path: Path) -> ReadingStore | None:
    """The store, set up as `open_db` sets up its own, or None if opening would change it."""
    store = ReadingStore(conn)
    conn.execute("PRAGMA recursive_triggers=on;")  # as sqlite-utils' Database does
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        return None
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 5000")
    return store if _all_applied(store, registered_migrations(path)) else None


def _all_applied(store: ReadingStore, registered: set[tuple[str, str]]) -> bool:
    """Every registered migration is recorded in sqlite-utils' `_sqlite_migrations`, a table
    in the shape sqlite-utils leaves as it is (primary key `id`)."""
    if not store.has_table("_sqlite_migrations"):
        return False
    columns = store.conn.execute("PRAGMA table_info(_sqlite_migrations)").fetchall()
    if [column[1] for column in sorted(columns, key=lambda c: c[5]) if column[5]] != ["id"]:
        return False
    rows = store.execute("SELECT migration_set, name FROM _sqlite_migrations").fetchall()
    return registered <= {(row[0], row[1]) for row in rows}


def registered_migrations(db_path: Path) -> set[tuple[str, str]]:
    """Every (set, migration) the storage modules register, from the file beside the
    database when it was written for these very modules, else by importing them (kept)."""
    kept = db_path.with_name(f"{db_path.name}.migrations.json")
    code = _code_key()
    try:
        data = json.loads(kept.read_text(encoding="utf-8"))
        if data["code"] == code:
            return {(str(pair[0]), str(pair[1])) for pair in data["migrations"]}
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass  # missing, or not ours: import the modules and write it again
    names = sorted(
        (migrations.name, migration.name)
        for migrations in migration_sets()
        for migration in migrations._migrations
    )
    _keep(kept, {"code": code, "migrations": names})
    return set(names)


def _code_key() -> list[list[object]]:
    """Name, size and modification time of every storage module: any edit changes it."""
    with os.scandir(_STORAGE) as entries:
        files = [entry for entry in entries if entry.name.endswith(".py")]
        return sorted([e.name, e.stat().st_size, e.stat().st_mtime_ns] for e in files)


def _keep(path: Path, data: dict[str, Any]) -> None:
    """Write `path` whole (a reader never sees half of it); a failure is only logged."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, path)
    except OSError as error:
        log.warning("cannot keep the migration names in %s: %s", path, error)
        partial.unlink(missing_ok=True)


def _is_select(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT")


def _arguments(parameters: Sequence[Any] | None) -> tuple[Any, ...]:
    return () if parameters is None else (parameters,)
