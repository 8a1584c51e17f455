"""Bars resolved after rules may have read past them (`rewinds`): where a rule steps again.

A bar held back (suspect, discarded, rejected) is left out of every rule; the rules step past
it on the next usable sessions. When it is resolved (a person accepts it, agreement or the
second source confirms it, the source corrects a rejected value) a row here names it, written
in the same transaction as the status change, so a crash before the next check loses nothing.
`bot/service/rewind.py` reads the rows newer than a rule's stored state and steps that rule
again from the bar's session.

The table stays small: a bar has one row (resolved again, its row takes the new stamp, so a
provisional bar rewritten at every refresh is one row), and the check that saves the rules'
states deletes, in the same transaction, the rows no stored state can be rewound by any more
(`prune_consumed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from sqlite_utils.migrations import Migrations

from signals.statuses import REJECTED, USABLE
from storage.db import Store, one_of, register
from storage.stamps import utc_now_iso

migrations = register(Migrations("rotation.rewinds"))


@migrations()
def create_rewinds(db: Store) -> None:
    """One row per resolved bar: its symbol, session, how it was resolved, and when."""
    db.execute(
        """
        CREATE TABLE rewinds (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            day TEXT NOT NULL,
            how TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX rewinds_created ON rewinds (created_at)")


@migrations()
def one_rewind_per_bar(db: Store) -> None:
    """One row per bar: the latest resolution's stamp asks every rule the older ones asked."""
    db.execute(
        "DELETE FROM rewinds WHERE id NOT IN (SELECT max(id) FROM rewinds GROUP BY name, day)"
    )
    db.execute("CREATE UNIQUE INDEX rewinds_bar ON rewinds (name, day)")


@dataclass(frozen=True)
class Rewind:
    """A bar of `name` on `day`, resolved `how` at `created_at` (ISO text, to the second)."""

    name: str
    day: date
    how: str
    created_at: str


# (symbol or series id, ISO date) -> (status, note) of the bars or points no rule reads.
Held = dict[tuple[str, str], tuple[str, str]]
# The tables a rule reads, and the column naming what each row is of.
_NAMED_BY = {"prices": "symbol", "series": "series_id"}


def held_bars(db: Store, names: Iterable[str], table: str = "prices") -> Held:
    """The bars (or series points) of `names` that no rule reads (a partial index on status
    serves it: held rows are few)."""
    names, column = sorted(set(names)), _NAMED_BY[table]
    if not names:
        return {}
    sql = (
        f"SELECT {column}, date, status, quality_note FROM {table}"  # noqa: S608
        f" WHERE status != 'ok' AND NOT ({one_of('status', len(USABLE))})"
        f" AND {one_of(column, len(names))}"
    )
    rows = db.execute(sql, [*USABLE, *names]).fetchall()
    return {(row[0], row[1]): (str(row[2]), str(row[3] or "")) for row in rows}


def statuses_now(db: Store, held: Held, table: str = "prices") -> Held:
    """The status and note each row of `held` has now (after a write)."""
    sql = f"SELECT status, quality_note FROM {table} WHERE {_NAMED_BY[table]} = ? AND date = ?"  # noqa: S608
    found = {key: db.execute(sql, list(key)).fetchone() for key in held}
    return {key: (str(row[0]), str(row[1] or "")) for key, row in found.items() if row}


def note_resolved(
    db: Store,
    before: Held,
    now: Mapping[tuple[str, str], tuple[str, str]],
    *,
    rewritten: bool = False,
) -> int:
    """Store a rewind for each bar held in `before` that `now` (its status and note) makes
    usable, and for each usable bar a person rejects; return how many. `rewritten`: the
    source sent new values (the bars are ok again until the checks judge them)."""
    stamp = utc_now_iso()
    rows = []
    for (name, day), (status, note) in now.items():
        old = before.get((name, day))
        if old is not None and status in USABLE:
            rows.append((name, day, _how(old[0], note, rewritten), stamp))
        elif old is None and status == REJECTED:
            rows.append((name, day, "rejected by a person", stamp))
    if rows:
        db.executemany(_UPSERT, rows)
    return len(rows)


# A bar resolved again keeps its one row with the new stamp: a rule saved before either
# resolution, or between them, is past the row's stamp, so none is asked less than before.
_UPSERT = (
    "INSERT INTO rewinds (name, day, how, created_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (name, day) DO UPDATE SET how = excluded.how, created_at = excluded.created_at"
)


def _how(old: str, note: str, rewritten: bool) -> str:
    """`accepted by a person`, `confirmed by the second source (...)`, or for a bar the
    source rewrote `rejected, then corrected by the source`."""
    if rewritten:
        return f"{old}, then corrected by the source"
    return note.partition("; ")[0] or f"{old}, then judged ok"


def pending_rewinds(db: Store, since: str) -> list[Rewind]:
    """The rewinds stored at or after `since` (ISO text), oldest first."""
    sql = "SELECT name, day, how, created_at FROM rewinds WHERE created_at >= ? ORDER BY id"
    return [
        Rewind(row[0], date.fromisoformat(row[1]), row[2], row[3])
        for row in db.execute(sql, [since]).fetchall()
    ]


def state_stamps(db: Store) -> dict[str, str]:
    """When each rule's state was last saved (ISO text, to the second)."""
    return dict(db.execute("SELECT rule_id, updated_at FROM rule_state").fetchall())


def oldest_state_stamp(db: Store) -> str:
    """When the least recently saved rule state was saved ("~" with none: no rewind is due)."""
    row = db.execute("SELECT min(updated_at) FROM rule_state").fetchone()
    return str(row[0]) if row and row[0] else "~"


# How far behind a rule's last session a resolved bar still steps it again (the policy and its
# reasons: bot/service/rewind.py `REACH`); a row further behind every state is never due.
REACH_DAYS = 92


def _due_to_some_state(db: Store) -> str:
    """SQL: the `rewinds` row can still rewind a stored state: the state was saved no later
    than the row, has read the bar, and the bar is within `REACH_DAYS` of its last session
    (what `bot.service.rewind` asks of a mark). States only move forward and every save stamps
    them anew, so a row no state matches now never matches again."""
    behind = db.days_between("saved.last_session", "rewinds.day")  # the engine's, no input
    saved = "SELECT 1 FROM rule_state AS saved WHERE saved.updated_at <= rewinds.created_at"
    return f"EXISTS ({saved} AND saved.last_session >= rewinds.day AND {behind} <= {REACH_DAYS})"


def prune_consumed(db: Store, now: str | None = None) -> int:
    """Delete the rows no stored rule state can be rewound by (every rule stepped past them,
    read the bar after it was resolved, or is past `REACH_DAYS`); return how many. Called in
    the transaction that saves the states, so a crash keeps both or neither. Rows stamped at
    `now`'s second stay: a state saved later that second still counts as before them."""
    if db.execute("SELECT 1 FROM rewinds LIMIT 1").fetchone() is None:
        return 0  # the usual check: a read, no write lock for an empty table
    sql = f"DELETE FROM rewinds WHERE created_at < ? AND NOT {_due_to_some_state(db)}"  # noqa: S608
    return db.execute(sql, [now or utc_now_iso()]).rowcount


def any_pending(db: Store) -> bool:
    """True when a row can step a stored rule state again (a scan of `rewinds` alone when it
    is empty, as it is on almost every check)."""
    sql = f"SELECT 1 FROM rewinds WHERE {_due_to_some_state(db)} LIMIT 1"  # noqa: S608
    return db.execute(sql).fetchone() is not None


def count_pending(db: Store) -> int:
    """How many rows would step a stored rule state again at the next check."""
    sql = f"SELECT count(*) FROM rewinds WHERE {_due_to_some_state(db)}"  # noqa: S608
    return int(db.execute(sql).fetchone()[0])
