"""Outbox claims for several senders: heads only, owner-only results, order under a race."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest

from storage.db import Store, open_db
from storage.outbox import enqueue_alerts, get_row, head_rows
from storage.outbox_claims import (
    claim_next,
    finish_delivered,
    finish_failed,
    release_own_claims,
    still_owner,
)
from tests.fakes.delivery_kit import T0, make_event

DESTINATIONS = ["discord:1", "discord:2", "slack:C1"]


def queue(db: Store, count: int, destinations: list[str] = DESTINATIONS) -> None:
    events = [make_event(rule=f"rule_{n:04d}") for n in range(count)]
    enqueue_alerts(db, events, destinations, now=T0)


def test_only_the_head_of_a_destination_can_be_claimed(fresh_db):
    queue(fresh_db, 3, ["discord:1"])
    first = claim_next(fresh_db, ["discord:1"], T0, 60, "a")
    assert first is not None
    # Row 2 waits while row 1 is being sent, and while row 1 waits for its retry.
    assert claim_next(fresh_db, ["discord:1"], T0, 60, "b") is None
    finish_failed(fresh_db, first, "HTTP 503", retry_at=T0 + timedelta(seconds=30), now=T0)
    assert claim_next(fresh_db, ["discord:1"], T0 + timedelta(seconds=29), 60, "b") is None
    again = claim_next(fresh_db, ["discord:1"], T0 + timedelta(seconds=30), 60, "b")
    assert again is not None and again.row.id == first.row.id
    assert finish_delivered(fresh_db, again, "m1", T0)
    second = claim_next(fresh_db, ["discord:1"], T0, 60, "b")
    assert second is not None and second.row.id == first.row.id + 1


def test_a_failed_pass_releases_only_its_own_process_claims(fresh_db):
    # host:1 owns a claim left by a pass whose connection dropped; host:12 is another process
    # (its id shares a prefix) and host:1's own pass-to-be must not take its row early.
    queue(fresh_db, 1, ["discord:1", "discord:2"])
    mine = claim_next(fresh_db, ["discord:1"], T0, 60, "host:1")
    other = claim_next(fresh_db, ["discord:2"], T0, 60, "host:12")
    assert mine is not None and other is not None

    assert release_own_claims(fresh_db, "host:1", T0 + timedelta(seconds=1)) == 1

    again = claim_next(fresh_db, ["discord:1", "discord:2"], T0 + timedelta(seconds=1), 60, "x")
    assert again is not None and again.row.id == mine.row.id
    assert again.row.status == "sending"  # so the sender looks the post up before posting
    assert get_row(fresh_db, other.row.id).claim == other.token


def test_destinations_are_claimed_independently_and_only_those_asked_for(fresh_db):
    queue(fresh_db, 2)
    got = [claim_next(fresh_db, DESTINATIONS, T0, 60, "a") for _ in DESTINATIONS]
    assert sorted(c.row.destination for c in got if c) == sorted(DESTINATIONS)
    assert claim_next(fresh_db, DESTINATIONS, T0, 60, "a") is None
    queue(fresh_db, 1, ["console"])
    assert claim_next(fresh_db, DESTINATIONS, T0, 60, "a") is None


def test_a_late_owner_cannot_overwrite_the_new_owners_result(fresh_db):
    """A sender whose lease ran out (stopped, suspended) wakes up and tries to record its result."""
    queue(fresh_db, 1, ["discord:1"])
    late = claim_next(fresh_db, ["discord:1"], T0, 60, "replica-a")
    assert late is not None and still_owner(fresh_db, late)
    after_lease = T0 + timedelta(seconds=61)
    new = claim_next(fresh_db, ["discord:1"], after_lease, 60, "replica-b")
    assert new is not None and new.row.status == "sending"  # the new owner must look first
    assert not still_owner(fresh_db, late)
    assert finish_delivered(fresh_db, new, "found-by-b", after_lease)
    assert not finish_delivered(fresh_db, late, "posted-by-a", after_lease)
    assert not finish_failed(fresh_db, late, "timeout", retry_at=None, now=after_lease)
    row = get_row(fresh_db, new.row.id)
    assert (row.status, row.message_id, row.attempts) == ("delivered", "found-by-b", 2)


def test_a_late_owner_cannot_undo_a_retry_either(fresh_db):
    queue(fresh_db, 1, ["discord:1"])
    late = claim_next(fresh_db, ["discord:1"], T0, 1, "a")
    new = claim_next(fresh_db, ["discord:1"], T0 + timedelta(seconds=2), 60, "b")
    assert late is not None and new is not None
    retry = T0 + timedelta(seconds=30)
    assert finish_failed(fresh_db, new, "HTTP 503", retry_at=retry, now=T0)
    assert not finish_delivered(fresh_db, late, "m", T0)
    assert get_row(fresh_db, new.row.id).status == "pending"


def test_heads_come_from_one_aggregate_over_the_open_rows(fresh_db):
    queue(fresh_db, 4)
    heads = head_rows(fresh_db)
    assert set(heads) == set(DESTINATIONS)
    claim = claim_next(fresh_db, ["discord:1"], T0, 60, "a")
    assert claim is not None
    finish_delivered(fresh_db, claim, "m", T0)
    assert head_rows(fresh_db)["discord:1"][0] > heads["discord:1"][0]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_three_racing_senders_keep_each_destination_in_order(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Three sender threads, each with its own connection, drain 3 x 40 rows together."""
    target = str(tmp_path / "race.db") if engine == "sqlite" else request.getfixturevalue("pg_url")
    db = open_db(target)
    queue(db, 40)
    db.close()
    delivered: dict[str, list[int]] = defaultdict(list)
    claims: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def sender(name: str) -> None:
        store = open_db(target, migrate=False)
        try:
            while (claim := claim_next(store, DESTINATIONS, T0, 60, name)) is not None:
                with lock:  # the "post": its arrival order per destination
                    delivered[claim.row.destination].append(claim.row.id)
                    claims.append(claim.row.id)
                assert finish_delivered(store, claim, f"m{claim.row.id}", T0)
        except BaseException as error:  # a thread's failure must fail the test
            errors.append(error)
        finally:
            store.close()

    threads = [threading.Thread(target=sender, args=(f"s{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(claims) == len(set(claims)) == 120  # nothing claimed twice, nothing left
    for ids in delivered.values():
        assert ids == sorted(ids) and len(ids) == 40
