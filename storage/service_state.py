"""What the service did and when: one row per job run, plus a small key/value heartbeat.

`rotation-bot status`, `/status` and the restart catch-up read these tables: the catch-up
starts after the last session whose final evaluation finished `ok`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlite_utils.migrations import Migrations

from storage.db import Store, register

migrations = register(Migrations("rotation.service_state"))
# Enough history for a year of intraday refreshes; older rows are pruned as new ones arrive.
KEEP_RUNS = 10_000


@migrations()
def create_service_tables(db: Store) -> None:
    """`service_runs` (job history) and `service_state` (heartbeat, pid, mode)."""
    db.execute(
        """
        CREATE TABLE service_runs (
            id INTEGER PRIMARY KEY,
            job TEXT NOT NULL,
            session TEXT,
            planned_at TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )
        """
    )
    db.execute("CREATE INDEX service_runs_job ON service_runs (job, outcome, session)")
    db.execute(
        "CREATE TABLE service_state (key TEXT PRIMARY KEY, value TEXT, updated_at TEXT NOT NULL)"
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def record_run(db: Store, run: dict[str, object]) -> int:
    """Store one finished job run (keys of `service_runs`); prune history beyond KEEP_RUNS."""
    row = {key: _iso(value) if isinstance(value, datetime) else value for key, value in run.items()}
    if isinstance(row.get("session"), date):
        row["session"] = row["session"].isoformat()  # type: ignore[union-attr]
    row["detail"] = str(row.get("detail") or "")[:2000]
    with db.atomic():
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        sql = f"INSERT INTO service_runs ({columns}) VALUES ({marks}) RETURNING id"  # noqa: S608
        run_id = db.execute(sql, list(row.values())).fetchall()[0][0]
        db.execute("DELETE FROM service_runs WHERE id <= ?", [int(run_id) - KEEP_RUNS])
    return int(run_id)


def last_run(db: Store, job: str, outcome: str | None = "ok") -> dict[str, object] | None:
    """The most recent finished run of `job` (with `outcome`, or any when None)."""
    sql = "SELECT * FROM service_runs WHERE job = ? AND finished_at IS NOT NULL"
    params: list[object] = [job]
    if outcome is not None:
        sql += " AND outcome = ?"
        params.append(outcome)
    rows = list(db.query(sql + " ORDER BY id DESC LIMIT 1", params))
    return rows[0] if rows else None


def last_evaluated_session(db: Store) -> date | None:
    """The latest session whose final evaluation finished `ok`."""
    return last_session_done(db, "evaluate")


def last_session_done(db: Store, job: str) -> date | None:
    """The latest session for which `job` finished `ok` (an evaluation, a digest)."""
    row = db.execute(
        "SELECT max(session) FROM service_runs WHERE job = ? AND outcome = 'ok'", [job]
    ).fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None


def runs(db: Store, limit: int = 50) -> list[dict[str, object]]:
    """The latest `limit` runs, oldest first."""
    rows = db.query("SELECT * FROM service_runs ORDER BY id DESC LIMIT ?", [limit])
    return list(reversed(list(rows)))


def set_state(db: Store, values: dict[str, str], at: datetime) -> None:
    """Upsert keys of the service state (heartbeat, pid, mode, started_at)."""
    with db.atomic():
        db.executemany(
            "INSERT INTO service_state (key, value, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
            " updated_at = excluded.updated_at",
            [(key, value, _iso(at)) for key, value in values.items()],
        )


def get_state(db: Store) -> dict[str, str]:
    """Every key of the service state."""
    return {key: value for key, value in db.execute("SELECT key, value FROM service_state")}
