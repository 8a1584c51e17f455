"""The current time, in the two shapes storage and the bot need: a datetime and stored text;
and a stored instant as people read it (`short_time`).

One definition of each, so the names say what comes back (`utc_now` a datetime, `utc_now_iso`
ISO text) instead of two look-alike names returning different types.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.db import Store


def server_now(db: Store) -> datetime:
    """The database server's current time (PostgreSQL's `now()`), aware UTC.

    Every replica compares the instants it writes (claim leases, pacing slots, ages) with
    the others': they come from the one clock they share, not from each host's. SQLite has
    one host: its clock.
    """
    if db.engine != "postgresql":
        return utc_now()
    row = db.execute("SELECT statement_timestamp()").fetchone()
    return row[0].astimezone(UTC)


def utc_now() -> datetime:
    """The current time in UTC, an aware datetime (the default clock everywhere)."""
    return datetime.now(UTC)


def utc_now_iso() -> str:
    """The current time in UTC as ISO 8601 text to the second, for `fetched_at`-style columns."""
    return utc_now().isoformat(timespec="seconds")


def short_time(stamp: str) -> str:
    """`2026-03-02T14:30:00+00:00` as `2026-03-02 14:30 UTC`."""
    moment = datetime.fromisoformat(stamp).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
