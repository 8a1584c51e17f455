"""Outbox claims that several sender processes can race for (issue 12, item 3).

A sender takes one row at a time with `claim_next`: the head (lowest open id) of a due
destination, which it marks `sending` with a lease and a claim token naming its owner
(`<replica>:<random>`). Only that token can finish the row (`finish_delivered`,
`finish_failed`): a sender whose lease ran out and who wakes up late finds the token changed
and its result refused, so it can never overwrite the new owner's.

Order per destination follows from claiming heads only: while row N is open (`sending` under
a live lease, or `pending` until its retry), row N+1 is not a head and cannot be claimed.

Each head is one probe of the partial index `outbox_open (destination, id)` over open rows
(`min(id) WHERE destination = ?`, one per destination the sender serves, in one statement):
its cost does not grow with the backlog or the history, where the correlated `min(id)` per
open row it replaced was quadratic in the backlog.

PostgreSQL: the head is locked with `FOR UPDATE SKIP LOCKED` inside the claim's transaction,
so two senders never wait on each other and the lock re-checks the row's latest version. SQLite
has one writer: the claim is a compare-and-set `UPDATE` (status and due time as read), which
`BEGIN IMMEDIATE` makes atomic. Both engines run the compare-and-set, so a row changed
between the read and the update is simply not claimed.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils.migrations import Migrations

from storage.db import Store, one_of, register
from storage.outbox import OutboxRow, head_rows, stamp

migrations = register(Migrations("rotation.outbox_claims"))


@migrations()
def add_claims_and_open_index(db: Store) -> None:
    """The claim token column, and `outbox_open` over open rows only (the backlog, not history)."""
    db.execute("ALTER TABLE outbox ADD COLUMN claim TEXT")
    db.execute("DROP INDEX outbox_open")
    db.execute(
        "CREATE INDEX outbox_open ON outbox (destination, id)"
        " WHERE status IN ('pending', 'sending')"
    )


@dataclass(frozen=True)
class Claim:
    """A row this sender owns until `expires`; `row` is the row as it was before the claim.

    `margin` is how much of the lease must be left to start a post: a second, or a quarter of
    a shorter lease.
    """

    row: OutboxRow
    token: str
    expires: datetime
    margin: timedelta = timedelta(seconds=1)

    @property
    def post_by(self) -> datetime:
        """The last instant a post of this row may start."""
        return self.expires - self.margin

    def valid_at(self, moment: datetime) -> bool:
        """True while a post may still start at `moment`."""
        return moment < self.post_by


def replica_id() -> str:
    """This process as a claim owner: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_next(
    db: Store,
    destinations: Iterable[str],
    now: datetime,
    lease_seconds: float,
    owner: str,
) -> Claim | None:
    """Claim the due head row of one of `destinations` (the longest due first), or None."""
    heads = sorted((due, row_id) for row_id, due in head_rows(db, destinations).values())
    candidates = [row_id for due, row_id in heads if due <= now]
    while candidates:
        claim, tried = _claim_one_of(db, candidates, now, lease_seconds, owner)
        if claim is not None or tried is None:
            return claim
        candidates.remove(tried)  # changed under us (another sender): try the next head
    return None


def _claim_one_of(
    db: Store, candidates: list[int], now: datetime, lease_seconds: float, owner: str
) -> tuple[Claim | None, int | None]:
    """Lock and take the first due open row among `candidates`; (claim, id tried)."""
    lock = " FOR UPDATE SKIP LOCKED" if db.engine == "postgresql" else ""
    sql = (
        f"SELECT * FROM outbox WHERE {one_of('id', len(candidates))}"  # noqa: S608
        " AND status IN ('pending', 'sending') AND next_attempt_at <= ?"
        f" ORDER BY next_attempt_at, id LIMIT 1{lock}"
    )
    with _claiming(db):
        found = next(db.query(sql, [*candidates, stamp(now)]), None)
        if found is None:
            return None, None
        row = OutboxRow(**dict(found))
        token = f"{owner}:{uuid.uuid4().hex[:12]}"
        expires = now + timedelta(seconds=lease_seconds)
        cursor = db.execute(
            "UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?,"
            " updated_at = ?, claim = ? WHERE id = ? AND status = ? AND next_attempt_at = ?",
            [stamp(expires), stamp(now), token, row.id, row.status, row.next_attempt_at],
        )
    if cursor.rowcount != 1:
        return None, row.id
    margin = timedelta(seconds=min(1.0, lease_seconds / 4))
    return Claim(row, token, expires, margin), row.id


@contextmanager
def _claiming(db: Store) -> Iterator[None]:
    """The claim's transaction: PostgreSQL's row lock, or SQLite's write lock from the start.

    SQLite: `BEGIN IMMEDIATE` takes the write lock before the read, so the read-then-update
    never has to upgrade a read snapshot (which fails at once in WAL mode when another sender
    wrote in between, whatever the busy timeout).
    """
    conn = getattr(db, "conn", None)
    if db.engine != "sqlite" or conn is None or conn.in_transaction:
        with db.atomic():
            yield
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def release_own_claims(db: Store, owner: str, now: datetime) -> int:
    """Make the rows `owner` (this process) still claims due now; return how many.

    Called as a pass starts: a process runs one pass at a time, so a claim of its own is
    left over from a pass that failed (its database connection dropped mid-send). The row
    stays `sending`, so the next claim looks the post up before posting again, as after a
    crash, without waiting for the lease to run out.
    """
    prefix = f"{owner}:"
    cursor = db.execute(
        "UPDATE outbox SET next_attempt_at = ? WHERE status = 'sending'"
        " AND substr(claim, 1, ?) = ? AND next_attempt_at > ?",
        [stamp(now), len(prefix), prefix, stamp(now)],
    )
    return max(cursor.rowcount, 0)


def still_owner(db: Store, claim: Claim) -> bool:
    """True while `claim` is the row's current claim and the row is still being sent."""
    found = db.execute(
        "SELECT 1 FROM outbox WHERE id = ? AND claim = ? AND status = 'sending'",
        [claim.row.id, claim.token],
    ).fetchone()
    return found is not None


def finish_delivered(db: Store, claim: Claim, message_id: str | None, now: datetime) -> bool:
    """Record the platform's acceptance; False (nothing written) if the claim is no longer ours."""
    with db.atomic():
        cursor = db.execute(
            "UPDATE outbox SET status = 'delivered', message_id = ?, last_error = NULL,"
            " delivered_at = ?, updated_at = ? WHERE id = ? AND claim = ? AND status = 'sending'",
            [message_id, stamp(now), stamp(now), claim.row.id, claim.token],
        )
    return cursor.rowcount == 1


def finish_failed(
    db: Store,
    claim: Claim,
    error: str,
    *,
    retry_at: datetime | None,
    now: datetime,
    count_attempt: bool = True,
) -> bool:
    """Record a failure (retry at `retry_at`, or dead when None) if the claim is still ours.

    `count_attempt=False` gives the attempt back (a 429 is the platform pacing us).
    """
    status = "dead" if retry_at is None else "pending"
    refund = 0 if count_attempt else 1
    with db.atomic():
        cursor = db.execute(
            "UPDATE outbox SET status = ?, last_error = ?, next_attempt_at = ?, updated_at = ?,"
            " attempts = CASE WHEN attempts > ? THEN attempts - ? ELSE 0 END"
            " WHERE id = ? AND claim = ? AND status = 'sending'",
            [status, error, stamp(retry_at or now), stamp(now), refund, refund, *_whose(claim)],
        )
    return cursor.rowcount == 1


def _whose(claim: Claim) -> list[object]:
    """The row id and token an owner-only update matches on."""
    return [claim.row.id, claim.token]
