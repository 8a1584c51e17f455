"""Open the SQLite database, set pragmas and bring the schema up to date.

Each storage module owns one `Migrations` set for its own tables, so features evolve their
schema independently; `open_db` applies every set in a fixed order. The list of applied
migrations is the schema version (`schema_version`).
"""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

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


def open_db(path: str | Path | None = None, *, migrate: bool = True) -> Database:
    """Open (creating if needed) the database at `path`, or in memory when `path` is None."""
    if path is None or str(path) == ":memory:":
        db = Database(memory=True)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = Database(path)
        # WAL lets the CLI read while the service writes.
        db.enable_wal()
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    if migrate:
        apply_migrations(db)
    return db


def apply_migrations(db: Database) -> None:
    """Apply every pending migration, each in its own transaction."""
    for migrations in migration_sets():
        migrations.apply(db)


def schema_version(db: Database) -> list[str]:
    """Applied migrations as `set:name`, oldest first."""
    applied = []
    for migrations in migration_sets():
        applied.extend(f"{migrations.name}:{m.name}" for m in migrations.applied(db))
    return applied


def pending_migrations(db: Database) -> list[str]:
    """Migrations not yet applied, as `set:name`."""
    pending = []
    for migrations in migration_sets():
        pending.extend(f"{migrations.name}:{m.name}" for m in migrations.pending(db))
    return pending
