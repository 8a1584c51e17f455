"""A counter that every write to `prices` or `series` bumps: a cheap test for "data changed".

Readers that keep a loaded market in memory (the chat commands) compare one integer instead
of reloading the whole history per question. Triggers keep it exact for every writer, in this
process or another (the service and the CLI share the file), without each writer having to
remember to bump it.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from storage import prices, series  # noqa: F401 - their tables first: the triggers watch them
from storage.db import register

migrations = register(Migrations("rotation.versioning"))

_WATCHED = ("prices", "series")


@migrations()
def create_data_version(db: Database) -> None:
    """One row, one counter, and a trigger per watched table and kind of write."""
    db.execute(
        "CREATE TABLE data_version"
        " (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)"
    )
    db.execute("INSERT INTO data_version (id, version) VALUES (1, 0)")
    for table in _WATCHED:
        for action in ("INSERT", "UPDATE", "DELETE"):
            name = f"{table}_{action.lower()}_bumps_version"
            db.execute(
                f"CREATE TRIGGER {name} AFTER {action} ON {table} BEGIN"  # noqa: S608 - fixed names
                " UPDATE data_version SET version = version + 1 WHERE id = 1; END"
            )


def data_version(db: Database) -> int:
    """The counter: equal on two reads when no price or series row changed in between."""
    row = db.execute("SELECT version FROM data_version WHERE id = 1").fetchone()
    return int(row[0])
