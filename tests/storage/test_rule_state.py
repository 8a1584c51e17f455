"""Rule states and the deduplicated event log, on real SQLite."""

from __future__ import annotations

from datetime import date

from signals.models import ChartSpec, Event, RuleState, SideState
from storage.db import open_db
from storage.rule_state import (
    event_from_payload,
    event_to_payload,
    has_event,
    last_event_by_rule,
    last_events,
    load_fingerprints,
    load_states,
    record_events,
    rules_with_events_between,
    save_states,
)


def make_event(rule_id: str = "r", day: date = date(2025, 3, 4), kind: str = "fired") -> Event:
    return Event(
        rule_id=rule_id,
        kind=kind,  # type: ignore[arg-type]
        date=day,
        episode="2025-03-04",
        title="IWC overtakes OEF YTD: +12.4% vs +11.9%",
        measure=0.5,
        threshold=0.0,
        unit="pp",
        direction="up",
        symbols=("IWC", "OEF"),
        description="micro over mega",
        fields=(("IWC YTD", "+12.4%"), ("OEF YTD", "+11.9%")),
        context={"rule_type": "relative_crossover", "tags": ["size"]},
        chart=ChartSpec("relative", ("IWC", "OEF"), date(2024, 12, 31), day, basis="adj_close"),
    )


def test_event_payload_round_trips() -> None:
    event = make_event()
    assert event_from_payload(event_to_payload(event)) == event
    bare = Event("r", "reversed", date(2025, 1, 2), "2025-01-01", "t", 1.0)
    assert event_from_payload(event_to_payload(bare)) == bare


def test_recording_the_same_event_twice_keeps_one_row(fresh_db) -> None:
    event = make_event()
    assert record_events(fresh_db, [event]) == [event]
    assert record_events(fresh_db, [event]) == []
    assert fresh_db.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    assert has_event(fresh_db, "r:2025-03-04:fired")


def test_dedupe_survives_a_restart(db_path) -> None:
    first = open_db(db_path)
    record_events(first, [make_event()])
    first.close()
    again = open_db(db_path)
    reversed_event = make_event(kind="reversed", day=date(2025, 3, 9))
    assert record_events(again, [make_event(), reversed_event]) == [reversed_event]
    row = again.execute(
        "SELECT dedupe_key, rule_id, kind, date, episode FROM events ORDER BY id"
    ).fetchall()
    assert row == [
        ("r:2025-03-04:fired", "r", "fired", "2025-03-04", "2025-03-04"),
        ("r:2025-03-04:reversed", "r", "reversed", "2025-03-09", "2025-03-04"),
    ]


def test_states_save_load_and_overwrite(fresh_db) -> None:
    state = RuleState(
        up=SideState("firing", 0, "2025-03-04"),
        down=SideState("pending", 2, None),
        cooldown=3,
        fired=7,
        last_session=date(2025, 3, 5),
    )
    save_states(fresh_db, {"a": state, "b": RuleState()})
    assert load_states(fresh_db) == {"a": state, "b": RuleState()}
    save_states(fresh_db, {"a": RuleState(last_session=date(2025, 3, 6))})
    assert load_states(fresh_db, ["a"]) == {"a": RuleState(last_session=date(2025, 3, 6))}
    phase = fresh_db.execute(
        "SELECT phase, last_session FROM rule_state WHERE rule_id='b'"
    ).fetchone()
    assert phase == ("inactive", None)


def test_fingerprints_are_kept_when_a_save_has_none(fresh_db) -> None:
    save_states(fresh_db, {"a": RuleState(), "b": RuleState()}, {"a": "f1"})
    save_states(fresh_db, {"a": RuleState(cooldown=1)})
    assert load_fingerprints(fresh_db) == {"a": "f1"}
    save_states(fresh_db, {"a": RuleState()}, {"a": "f2", "b": "g"})
    assert load_fingerprints(fresh_db) == {"a": "f2"}


def test_last_events_newest_first_per_rule(fresh_db) -> None:
    record_events(
        fresh_db,
        [
            make_event("a", date(2025, 3, 4)),
            make_event("b", date(2025, 3, 6)),
            make_event("a", date(2025, 3, 9), kind="reversed"),
        ],
    )
    assert [(e.rule_id, e.kind) for e in last_events(fresh_db)] == [
        ("a", "reversed"), ("b", "fired"), ("a", "fired"),
    ]  # fmt: skip
    assert [e.kind for e in last_events(fresh_db, "a", limit=1)] == ["reversed"]
    assert {k: v.date for k, v in last_event_by_rule(fresh_db).items()} == {
        "a": date(2025, 3, 9),
        "b": date(2025, 3, 6),
    }


def test_rules_with_events_between_reads_only_that_span(fresh_db) -> None:
    record_events(
        fresh_db,
        [
            make_event("a", date(2025, 1, 2)),
            make_event("b", date(2025, 3, 6)),
            make_event("c", date(2025, 3, 9)),  # after the span: a later event must not count
        ],
    )
    assert rules_with_events_between(fresh_db, date(2025, 1, 2), date(2025, 3, 6)) == {"a", "b"}
    assert rules_with_events_between(fresh_db, date(2025, 3, 10), date(2025, 4, 1)) == set()
