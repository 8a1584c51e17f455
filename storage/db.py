"""Open the database as a `Store`, set it up and bring the schema up to date.

`Store` is the storage handle: `bot/` holds one and passes it to the typed functions of the
storage modules, and never runs SQL on it itself (import-linter keeps `sqlite3`,
`sqlite_utils` and `psycopg` out of `bot/`). Two engines stand behind it: a SQLite file (the
default; `SqliteStore`, a sqlite-utils `Database`) or a PostgreSQL server named by a
`postgresql://` URL (`storage.postgres.PostgresStore`). The storage modules write their SQL
once, with `?` placeholders, in the subset both engines take; what differs (placeholders,
DDL types, day arithmetic, table lookup) lives in the two `Store` classes only.

Each storage module owns one `Migrations` set for its own tables; `open_db` applies every set
in a fixed order, on either engine. The list of applied migrations is the schema version.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from storage.urls import is_database_url

if TYPE_CHECKING:
    import pandas as pd
    from sqlite_utils.migrations import Migrations

    from storage.sqlite_store import SqliteStore

_SETS: list[Migrations] = []


def register(migrations: Migrations) -> Migrations:
    """Add a storage module's migration set to those `open_db` applies."""
    if migrations not in _SETS:
        _SETS.append(migrations)
    return migrations


def migration_sets() -> list[Migrations]:
    """Every registered migration set, importing the storage modules that own them."""
    # Imported here so that registration happens even if a caller imported only storage.db.
    from storage import schema  # noqa: F401

    return list(_SETS)


class StorageError(Exception):
    """The database cannot be opened: not a database, unreadable, unreachable, or no folder."""


class Store(ABC):
    """The storage handle `bot/` holds: pass it to storage functions, `atomic()`, `close()`.

    Inside `storage/`, the common surface of both engines: `execute` (a DB-API cursor),
    `executemany` (rows changed), `query` (dict rows), `atomic`, `has_table`, `table_names`,
    `days_between` (SQL text) and `close`. SQL uses `?` placeholders on both.
    """

    engine: str

    @abstractmethod
    def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Any:
        """Run one statement; return its cursor (fetchone, fetchall, rowcount, iteration)."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement per row; return how many rows it changed in all."""

    @abstractmethod
    def query(self, sql: str, parameters: Sequence[Any] | None = None) -> Iterator[dict]:
        """Rows of a SELECT as dicts keyed by column name."""

    @abstractmethod
    def atomic(self) -> AbstractContextManager[Any]:
        """A transaction (a savepoint when nested): all or nothing."""

    @abstractmethod
    def has_table(self, name: str) -> bool:
        """True when the table exists."""

    @abstractmethod
    def table_names(self) -> list[str]:
        """Every table of the schema."""

    @abstractmethod
    def days_between(self, later: str, earlier: str) -> str:
        """SQL for the days from the ISO date column `earlier` to `later`."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""


def open_db(path: str | Path | None = None, *, migrate: bool = True) -> Store:
    """Open (creating if needed) the database at `path`: a file, a URL, or memory when None."""
    if is_database_url(path):
        from storage.postgres import open_postgres

        return open_postgres(str(path), migrate=migrate)
    try:
        db = _connect(path)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 5000")
        if migrate:
            apply_migrations(db)
    except (OSError, sqlite3.DatabaseError) as error:
        raise StorageError(str(error)) from error
    return db


def _connect(path: str | Path | None) -> SqliteStore:
    from storage.sqlite_store import SqliteStore  # sqlite-utils: only when a store opens so

    if path is None or str(path) == ":memory:":
        return SqliteStore(memory=True)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = SqliteStore(path)
    # WAL lets the CLI read while the service writes.
    db.enable_wal()
    return db


def open_shared(path: str | Path) -> Store:
    """A handle usable from worker threads (not migrated); callers serialise access with a lock."""
    if is_database_url(path):
        return open_db(path, migrate=False)
    from storage.sqlite_store import SqliteStore

    db = SqliteStore(sqlite3.connect(str(path), check_same_thread=False))
    db.execute("PRAGMA busy_timeout = 5000")
    # Run history needs no fsync per row: WAL with NORMAL stays consistent after a crash.
    db.execute("PRAGMA synchronous = NORMAL")
    return db


def copy_database(source: Path, target: Path) -> None:
    """Copy the SQLite file `source` to `target`, consistent even while `source` is written."""
    if is_database_url(source):
        raise StorageError(
            "a scratch copy needs a SQLite file; a PostgreSQL database is not copied"
        )
    with closing(sqlite3.connect(source)) as live, closing(sqlite3.connect(target)) as copy:
        live.backup(copy)


def clear_tables(db: Store, tables: Iterable[str]) -> None:
    """Delete every row of those of `tables` that exist, in one transaction."""
    from storage.versioning import WATCHED, bump_data_version  # lazy: versioning imports this

    with db.atomic():
        for table in tables:
            if db.has_table(table):
                db.execute(f'DELETE FROM "{table}"')  # noqa: S608 - names from our own code
                if table in WATCHED:
                    bump_data_version(db)


def apply_migrations(db: Store) -> None:
    """Apply every pending migration, each in its own transaction."""
    for migrations in migration_sets():
        _runner(db).apply(migrations, db)


def schema_version(db: Store) -> list[str]:
    """Applied migrations as `set:name`, oldest first."""
    applied = []
    for migrations in migration_sets():
        applied.extend(f"{migrations.name}:{name}" for name in _runner(db).applied(migrations, db))
    return applied


def pending_migrations(db: Store) -> list[str]:
    """Migrations not yet applied, as `set:name`."""
    pending = []
    for migrations in migration_sets():
        done = set(_runner(db).applied(migrations, db))
        pending.extend(
            f"{migrations.name}:{m.name}" for m in migrations._migrations if m.name not in done
        )
    return pending


class _SqliteMigrations:
    """sqlite-utils runs the migration sets on SQLite (its `_sqlite_migrations` table)."""

    @staticmethod
    def apply(migrations: Migrations, db: Store) -> None:
        migrations.apply(db)  # type: ignore[arg-type]

    @staticmethod
    def applied(migrations: Migrations, db: Store) -> list[str]:
        return [m.name for m in migrations.applied(db)]  # type: ignore[arg-type]


def _runner(db: Store) -> Any:
    if db.engine == "postgresql":
        from storage.postgres import PostgresMigrations

        return PostgresMigrations
    return _SqliteMigrations


def one_of(column: str, count: int) -> str:
    """`column IN (?, ...)` for `count` values; false for none (PostgreSQL refuses `IN ()`)."""
    return f"{column} IN ({', '.join('?' * count)})" if count else "1 = 0"


def read_frame(db: Store, sql: str, parameters: Sequence[Any] | None = None) -> pd.DataFrame:
    """The rows of a SELECT as a DataFrame named by its columns (either engine)."""
    import pandas as pd

    cursor = db.execute(sql, parameters)
    columns = [column[0] for column in cursor.description]
    return pd.DataFrame(cursor.fetchall(), columns=columns)
