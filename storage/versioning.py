"""A counter that every write to `prices` or `series` bumps: a cheap test for "data changed".

Readers that keep a loaded market in memory (the chat commands) compare one integer instead
of reloading the whole history per question. It lives in the database, so a write by another
process (the service and the CLI share it) is seen too. The writers bump it, once per call
that changed a row (`write_counted`): every write to those tables is one of four storage
functions (no SQL outside storage/). Row triggers did this at first, but SQLite has no
statement triggers, and a counter update per row made importing the shared prices 80 % slower.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlite_utils.migrations import Migrations

from storage import prices, series  # noqa: F401 - their tables first: the triggers watch them
from storage.db import register

if TYPE_CHECKING:
    from sqlite_utils import Database

migrations = register(Migrations("rotation.versioning"))

WATCHED = ("prices", "series")


@migrations()
def create_data_version(db: Database) -> None:
    """One row, one counter, and a trigger per watched table and kind of write."""
    db.execute(
        "CREATE TABLE data_version"
        " (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO data_version (id, version) VALUES (1, 0)")
    if getattr(db, "engine", "sqlite") == "postgresql":
        _create_postgres_triggers(db)
        return
    for table in WATCHED:
        for action in ("INSERT", "UPDATE", "DELETE"):
            name = f"{table}_{action.lower()}_bumps_version"
            db.execute(
                f"CREATE TRIGGER {name} AFTER {action} ON {table} BEGIN"  # noqa: S608 - fixed names
                " UPDATE data_version SET version = version + 1 WHERE id = 1; END"
            )


def _create_postgres_triggers(db: Database) -> None:
    # PostgreSQL triggers call a function. Per statement (a bulk import must not bump once per
    # row), but only when the statement changed a row: an upsert that found everything
    # identical still fires its statement triggers, so each looks at its transition table
    # (one trigger per kind of write: transition tables allow no more). The counter is a
    # sequence: updating one row 100,000 times in an import's transaction piles up row
    # versions and took minutes; nextval is not transactional and costs nothing.
    db.execute("CREATE SEQUENCE data_version_seq")
    db.execute(
        "CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF EXISTS (SELECT 1 FROM changed) THEN PERFORM nextval('data_version_seq');"
        " END IF; RETURN NULL; END $$"
    )
    rows = {"INSERT": "NEW", "UPDATE": "NEW", "DELETE": "OLD"}
    for table in WATCHED:
        for action, which in rows.items():
            db.execute(
                f"CREATE TRIGGER {table}_{action.lower()}_bumps_version AFTER {action} ON {table}"
                f" REFERENCING {which} TABLE AS changed"
                " FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
            )


def data_version(db: Database) -> int:
    """The counter: equal on two reads when no price or series row changed in between."""
    if getattr(db, "engine", "sqlite") == "postgresql":
        sql = "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM data_version_seq"
    else:
        sql = "SELECT version FROM data_version WHERE id = 1"
    return int(db.execute(sql).fetchone()[0])


@migrations()
def count_in_writers_not_triggers(db: Database) -> None:
    """Drop the first migration's triggers: `write_counted` bumps the counter instead."""
    postgres = getattr(db, "engine", "sqlite") == "postgresql"
    for table in WATCHED:
        for action in ("insert", "update", "delete"):
            on = f" ON {table}" if postgres else ""
            db.execute(f"DROP TRIGGER IF EXISTS {table}_{action}_bumps_version{on}")
    if postgres:
        db.execute("DROP FUNCTION IF EXISTS bump_data_version()")


def bump_data_version(db: Database) -> None:
    """Move the counter on: readers holding data loaded before now must reload."""
    if getattr(db, "engine", "sqlite") == "postgresql":
        db.execute("SELECT nextval('data_version_seq')")
    else:
        db.execute("UPDATE data_version SET version = version + 1 WHERE id = 1")


def write_counted(db: Database, sql: str, rows: list[tuple[object, ...]]) -> int:
    """Run `sql` once per row in one transaction; bump the counter if any row changed."""
    with db.atomic():
        changed = db.executemany(sql, rows)
        if changed:
            bump_data_version(db)
    return changed
