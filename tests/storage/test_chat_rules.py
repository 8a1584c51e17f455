"""Rules made in chat and their previews, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage import chat_rules as store
from storage.db import Store

NOW = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
TOML = '[[rules]]\nid = "x"\ntype = "new_high"\nsymbol = "IWM"\n'


def preview(token: str = "t1", expires: timedelta = timedelta(minutes=15)) -> store.Preview:
    return store.Preview(
        token, "new", "x", TOML, "discord:7", NOW.isoformat(), (NOW + expires).isoformat()
    )


def test_save_keeps_the_creator_and_records_the_editor(fresh_db: Store) -> None:
    first = store.save_rule(fresh_db, "x", TOML, by="discord:7", now=NOW)
    later = NOW + timedelta(hours=2)
    edited = store.save_rule(fresh_db, "x", TOML + "confirm = 2\n", by="slack:U1", now=later)
    assert (first.created_by, first.updated_by) == ("discord:7", "discord:7")
    assert (edited.created_by, edited.created_at) == ("discord:7", "2026-03-02T14:30:00+00:00")
    assert (edited.updated_by, edited.updated_at) == ("slack:U1", "2026-03-02T16:30:00+00:00")
    assert edited.toml.endswith("confirm = 2\n")
    assert [r.rule_id for r in store.list_rules(fresh_db)] == ["x"]


def test_list_is_oldest_first_and_delete_says_whether_it_removed(fresh_db: Store) -> None:
    store.save_rule(fresh_db, "b", TOML, by="discord:7", now=NOW + timedelta(minutes=1))
    store.save_rule(fresh_db, "a", TOML, by="discord:7", now=NOW + timedelta(minutes=2))
    store.save_rule(fresh_db, "c", TOML, by="discord:7", now=NOW)
    assert [r.rule_id for r in store.list_rules(fresh_db)] == ["c", "b", "a"]
    assert store.delete_rule(fresh_db, "b") is True
    assert store.delete_rule(fresh_db, "b") is False
    assert store.get_rule(fresh_db, "b") is None


def test_a_preview_settles_once(fresh_db: Store) -> None:
    store.add_preview(fresh_db, preview(), now=NOW)
    assert store.settle_preview(fresh_db, "t1", "saved", by="discord:7", now=NOW)
    assert not store.settle_preview(fresh_db, "t1", "cancelled", by="discord:7", now=NOW)
    settled = store.get_preview(fresh_db, "t1")
    assert settled is not None and (settled.outcome, settled.settled_by) == ("saved", "discord:7")


def test_an_expired_preview_does_not_settle(fresh_db: Store) -> None:
    store.add_preview(fresh_db, preview(), now=NOW)
    late = NOW + timedelta(minutes=16)
    assert not store.settle_preview(fresh_db, "t1", "saved", by="discord:7", now=late)
    found = store.get_preview(fresh_db, "t1")
    assert found is not None and found.outcome is None


def test_old_previews_are_dropped_when_a_new_one_comes(fresh_db: Store) -> None:
    store.add_preview(fresh_db, preview("old"), now=NOW)
    store.add_preview(fresh_db, preview("new"), now=NOW + timedelta(days=2))
    assert store.get_preview(fresh_db, "old") is None
    assert store.get_preview(fresh_db, "new") is not None


def test_unknown_outcome_is_refused(fresh_db: Store) -> None:
    with pytest.raises(ValueError, match="outcome must be one of"):
        store.settle_preview(fresh_db, "t1", "maybe", by="discord:7", now=NOW)
