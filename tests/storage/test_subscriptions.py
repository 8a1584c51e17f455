"""On-call state in real SQLite: subscriptions, mutes, acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from storage import subscriptions as subs
from storage.db import open_db, pending_migrations

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)


def test_migration_registered_and_idempotent(db_path: Path) -> None:
    db = open_db(db_path)
    assert pending_migrations(db) == []
    db.close()
    again = open_db(db_path)
    assert {"subscriptions", "mutes", "acknowledgements", "renotify"} <= set(again.table_names())


def test_subscribe_is_unique_per_user_and_rule(fresh_db: Database) -> None:
    subs.subscribe(fresh_db, "discord", "42", "iwc-oef", "mention", now=NOW)
    again = subs.subscribe(fresh_db, "discord", "42", "iwc-oef", "dm", now=NOW + timedelta(1))
    assert again.mode == "dm"
    assert again.created_at == subs.iso(NOW)  # changing the mode keeps the original date
    assert len(subs.list_subscriptions(fresh_db, "discord", "42")) == 1


def test_subscriptions_are_per_platform(fresh_db: Database) -> None:
    subs.subscribe(fresh_db, "discord", "42", "r1", "mention", now=NOW)
    assert subs.list_subscriptions(fresh_db, "slack", "42") == []


def test_list_puts_all_first(fresh_db: Database) -> None:
    for rule in ("b", "all", "a"):
        subs.subscribe(fresh_db, "slack", "U1", rule, "dm", now=NOW)
    assert [s.rule_id for s in subs.list_subscriptions(fresh_db, "slack", "U1")] == [
        "all",
        "a",
        "b",
    ]


def test_unsubscribe_one_and_all(fresh_db: Database) -> None:
    for rule in ("a", "b", "all"):
        subs.subscribe(fresh_db, "slack", "U1", rule, "dm", now=NOW)
    subs.subscribe(fresh_db, "slack", "U2", "a", "dm", now=NOW)
    assert subs.unsubscribe(fresh_db, "slack", "U1", "a") == 1
    assert subs.unsubscribe(fresh_db, "slack", "U1", "a") == 0
    assert subs.unsubscribe(fresh_db, "slack", "U1", "all") == 2
    assert subs.list_subscriptions(fresh_db, "slack", "U1") == []
    assert len(subs.list_subscriptions(fresh_db, "slack", "U2")) == 1


def test_subscribers_for_expands_all_and_prefers_own_row(fresh_db: Database) -> None:
    subs.subscribe(fresh_db, "discord", "1", "all", "dm", now=NOW)
    subs.subscribe(fresh_db, "discord", "1", "r1", "mention", now=NOW)
    subs.subscribe(fresh_db, "discord", "2", "all", "mention", now=NOW)
    subs.subscribe(fresh_db, "discord", "3", "r2", "dm", now=NOW)
    subs.subscribe(fresh_db, "slack", "U9", "r1", "dm", now=NOW)
    found = {s.user_id: s.mode for s in subs.subscribers_for(fresh_db, "r1", "discord")}
    assert found == {"1": "mention", "2": "mention"}
    found_r2 = {s.user_id: s.mode for s in subs.subscribers_for(fresh_db, "r2", "discord")}
    assert found_r2 == {"1": "dm", "2": "mention", "3": "dm"}


def test_bad_platform_or_mode_rejected(fresh_db: Database) -> None:
    with pytest.raises(ValueError, match="platform"):
        subs.subscribe(fresh_db, "irc", "1", "r", "dm", now=NOW)
    with pytest.raises(ValueError, match="mode"):
        subs.subscribe(fresh_db, "slack", "1", "r", "shout", now=NOW)


def test_naive_times_rejected(fresh_db: Database) -> None:
    with pytest.raises(ValueError, match="timezone"):
        subs.subscribe(fresh_db, "slack", "1", "r", "dm", now=datetime(2026, 1, 1))


def test_mute_expires(fresh_db: Database) -> None:
    subs.mute(fresh_db, "r1", NOW + timedelta(hours=4), by="7", platform="discord", now=NOW)
    assert [m.rule_id for m in subs.active_mutes(fresh_db, NOW)] == ["r1"]
    assert subs.muted(fresh_db, "r1", NOW + timedelta(hours=3)) is not None
    assert subs.active_mutes(fresh_db, NOW + timedelta(hours=4)) == []
    assert subs.muted(fresh_db, "r1", NOW + timedelta(hours=4)) is None


def test_mute_replaces_and_unmute(fresh_db: Database) -> None:
    subs.mute(fresh_db, "r1", NOW + timedelta(hours=4), by="7", platform="discord", now=NOW)
    subs.mute(fresh_db, "r1", NOW + timedelta(days=2), by="U1", platform="slack", now=NOW)
    (only,) = subs.active_mutes(fresh_db, NOW)
    assert (only.muted_by, only.platform) == ("U1", "slack")
    assert subs.unmute(fresh_db, "r1") is True
    assert subs.unmute(fresh_db, "r1") is False
    assert subs.active_mutes(fresh_db, NOW) == []


def test_mute_all_silences_every_rule(fresh_db: Database) -> None:
    subs.mute(fresh_db, "all", NOW + timedelta(hours=1), by="7", platform="discord", now=NOW)
    hit = subs.muted(fresh_db, "anything", NOW)
    assert hit is not None and hit.rule_id == "all"


def test_mute_in_the_past_rejected(fresh_db: Database) -> None:
    with pytest.raises(ValueError, match="future"):
        subs.mute(fresh_db, "r1", NOW, by="7", platform="discord", now=NOW)


def test_first_acknowledgement_wins(fresh_db: Database) -> None:
    first = subs.acknowledge(
        fresh_db, "r1:2026-03-02:fired", platform="slack", user_id="U1", now=NOW
    )
    later = subs.acknowledge(
        fresh_db, "r1:2026-03-02:fired", platform="discord", user_id="9", now=NOW + timedelta(1)
    )
    assert first.first is True
    assert later.first is False
    assert (later.platform, later.user_id, later.acked_at) == ("slack", "U1", subs.iso(NOW))
    assert subs.acknowledgement(fresh_db, "other") is None


def test_state_survives_reopen(db_path: Path) -> None:
    db = open_db(db_path)
    subs.subscribe(db, "discord", "1", "r1", "dm", now=NOW)
    subs.acknowledge(db, "k", platform="discord", user_id="1", now=NOW)
    db.close()
    db = open_db(db_path)
    assert subs.subscribers_for(db, "r1", "discord")[0].mode == "dm"
    assert subs.acknowledge(db, "k", platform="slack", user_id="U", now=NOW).first is False


def test_recipients_split_by_mode(fresh_db: Database) -> None:
    subs.subscribe(fresh_db, "slack", "U1", "all", "dm", now=NOW)
    subs.subscribe(fresh_db, "slack", "U2", "r1", "mention", now=NOW)
    subs.subscribe(fresh_db, "slack", "U3", "r2", "mention", now=NOW)
    found = subs.recipients(fresh_db, "r1", "slack")
    assert (found.mention, found.dm) == (("U2",), ("U1",))
    assert subs.recipients(fresh_db, "r1", "discord") == subs.Recipients((), ())
