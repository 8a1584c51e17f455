"""A check with no new bar reuses each rule's stored evaluation; any change recomputes exactly
the rules it touches, and what the check says is what computing it afresh says."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from bot.service.evaluation import CheckReport, check_rules
from signals.models import PriceBar
from signals.rules import Rule, parse_rule
from storage.db import Store
from storage.prices import set_statuses, upsert_bars
from storage.rule_checks import clear_checks
from storage.rule_state import forget_state

DAYS = [d.date() for d in pd.bdate_range("2025-03-03", periods=12)]
NOW = datetime(2025, 3, 18, 22, 0, tzinfo=UTC)  # after the close of DAYS[11]
LATER = datetime(2025, 3, 19, 22, 0, tzinfo=UTC)  # one session on: staleness changes


def store(db: Store, symbol: str, closes: list[float], start: int = 0) -> None:
    bars = [
        PriceBar(symbol, DAYS[start + i], close=c, adj_close=c, source="test")
        for i, c in enumerate(closes)
    ]
    upsert_bars(db, bars)


def high(rule_id: str, symbol: str, **options: object) -> Rule:
    return parse_rule(
        {"id": rule_id, "type": "new_high", "symbol": symbol, "min_history": 2, **options}
    )


RULES = [
    high("x-high", "X"),
    high("y-high", "Y", confirm=2),
    parse_rule({"id": "x-vs-y", "type": "relative_crossover", "a": "X", "b": "Y",
                "window": "2d", "level": 0.0}),
]  # fmt: skip


def damage_check(db: Store, rule_id: str, text: str) -> None:
    """A torn or foreign row in place of a rule's stored evaluation."""
    db.execute("UPDATE rule_checks SET evaluation = ? WHERE rule_id = ?", (text, rule_id))


def evaluations(report: CheckReport) -> list[object]:
    return [check.evaluation for check in report.checks]


def afresh(db: Store, rules: list[Rule]) -> CheckReport:
    """The same check with every stored evaluation dropped (states kept)."""
    clear_checks(db)
    return check_rules(db, rules, now=NOW)


def test_a_check_with_no_new_bar_reuses_every_evaluation_and_says_the_same(fresh_db) -> None:
    store(fresh_db, "X", [1, 2, 3, 2, 4, 5])
    store(fresh_db, "Y", [5, 4, 6, 7, 7, 8])
    first = check_rules(fresh_db, RULES, now=NOW)
    again = check_rules(fresh_db, RULES, now=NOW)
    assert first.reused == () and again.reused == ("x-high", "y-high", "x-vs-y")
    assert evaluations(again) == evaluations(afresh(fresh_db, RULES))
    assert [check.last_event for check in again.checks] == [c.last_event for c in first.checks]


def test_a_new_bar_recomputes_only_the_rules_that_read_it(fresh_db) -> None:
    store(fresh_db, "X", [1, 2, 3, 2, 4, 5])
    store(fresh_db, "Y", [5, 4, 6, 7, 7, 8])
    check_rules(fresh_db, RULES, now=NOW)
    store(fresh_db, "X", [6], start=6)
    after = check_rules(fresh_db, RULES, now=NOW)
    assert after.reused == ("y-high",)
    assert evaluations(after)[0].session == DAYS[6]
    fresh_states = check_rules(fresh_db, RULES, now=NOW)
    assert fresh_states.reused == ("x-high", "y-high", "x-vs-y")
    assert evaluations(fresh_states) == evaluations(afresh(fresh_db, RULES))


def test_a_revised_old_bar_recomputes_the_rules_reading_that_leg(fresh_db) -> None:
    store(fresh_db, "X", [1, 2, 3, 2, 4, 5])
    store(fresh_db, "Y", [5, 4, 6, 7, 7, 8])
    check_rules(fresh_db, RULES, now=NOW)
    store(fresh_db, "Y", [4.5], start=1)  # a vintage revises an old Y close
    assert check_rules(fresh_db, RULES, now=NOW).reused == ("x-high",)
    set_statuses(fresh_db, "Y", [(DAYS[2], "suspect", "test")])  # a bar held back changes Y too
    assert check_rules(fresh_db, RULES, now=NOW).reused == ("x-high",)


def test_an_edited_rule_a_forgotten_state_or_a_new_session_recompute(fresh_db) -> None:
    store(fresh_db, "X", [1, 2, 3, 2, 4, 5])
    store(fresh_db, "Y", [5, 4, 6, 7, 7, 8])
    check_rules(fresh_db, RULES, now=NOW)
    edited = [high("x-high", "X", hysteresis=1.0), *RULES[1:]]
    report = check_rules(fresh_db, edited, now=NOW)
    assert report.reused == ("y-high", "x-vs-y") and report.primed == ("x-high",)
    forget_state(fresh_db, "y-high")
    assert check_rules(fresh_db, edited, now=NOW).reused == ("x-high", "x-vs-y")
    later = check_rules(fresh_db, edited, now=LATER)  # the expected session moved: staleness
    assert later.reused == ()
    assert later.checks[0].evaluation.reason.endswith("expected session 2025-03-19")


def test_intraday_rules_and_dry_runs_never_reuse(fresh_db) -> None:
    store(fresh_db, "X", [1, 2, 3, 2, 4, 5])
    intraday = [high("x-live", "X", intraday=True)]
    check_rules(fresh_db, intraday, now=NOW)
    assert check_rules(fresh_db, intraday, now=NOW).reused == ()
    check_rules(fresh_db, RULES[:1], now=NOW)
    dry = check_rules(fresh_db, RULES[:1], now=NOW, as_of=DAYS[5], persist=False)
    assert dry.reused == ()


def test_a_rule_without_data_is_reused_until_its_data_arrives_then_primed(fresh_db) -> None:
    store(fresh_db, "X", [1, 2, 3])
    waiting = [high("z-high", "Z"), high("x-high", "X", min_history=30)]  # unknown, too short
    first = check_rules(fresh_db, waiting, now=NOW)
    assert [c.evaluation.status for c in first.checks] == ["NO DATA", "NO DATA"]
    again = check_rules(fresh_db, waiting, now=NOW)
    assert again.reused == ("z-high", "x-high")
    assert evaluations(again) == evaluations(first)
    store(fresh_db, "Z", [1, 2, 3, 4])
    arrived = check_rules(fresh_db, waiting, now=NOW)
    assert arrived.reused == ("x-high",) and arrived.primed == ("z-high",)
    assert arrived.checks[0].evaluation.session == DAYS[3]


def test_an_unreadable_stored_evaluation_is_computed_again(fresh_db, caplog) -> None:
    store(fresh_db, "X", [1, 2, 3, 2, 4, 5])
    store(fresh_db, "Y", [5, 4, 6, 7, 7, 8])
    first = check_rules(fresh_db, RULES, now=NOW)
    damage_check(fresh_db, "x-high", "{not json")
    damage_check(fresh_db, "y-high", '{"rule_id": "y-high"}')
    again = check_rules(fresh_db, RULES, now=NOW)
    assert again.reused == ("x-vs-y",)
    assert evaluations(again) == evaluations(first)
    assert "stored evaluation of x-high unreadable" in caplog.text
    assert check_rules(fresh_db, RULES, now=NOW).reused == ("x-high", "y-high", "x-vs-y")


def test_a_check_killed_between_saving_states_and_evaluations_recomputes(fresh_db) -> None:
    store(fresh_db, "X", [1, 2, 3, 2, 4, 5])
    store(fresh_db, "Y", [5, 4, 6, 7, 7, 8])
    check_rules(fresh_db, RULES, now=NOW)
    old_rows = fresh_db.execute("SELECT rule_id, inputs, evaluation FROM rule_checks").fetchall()
    store(fresh_db, "X", [9], start=6)
    moved = check_rules(fresh_db, RULES, now=NOW)
    assert moved.checks[0].evaluation.state.last_session == DAYS[6]
    # As if that check died after saving its states, before saving its evaluations; then the
    # new bar is discarded as a bad tick: the data is again what the old rows were keyed on.
    fresh_db.execute("DELETE FROM rule_checks")
    fresh_db.executemany("INSERT INTO rule_checks VALUES (?, ?, ?)", old_rows)
    set_statuses(fresh_db, "X", [(DAYS[6], "discarded", "test")])
    after = check_rules(fresh_db, RULES, now=NOW)
    # x-high's saved state moved on, so its old row does not match (Y has no bar on the new
    # day: the pair's state did not move, and its old row still holds).
    assert after.reused == ("y-high", "x-vs-y")
    assert after.checks[0].evaluation.state.last_session == DAYS[6]
    assert evaluations(after) == evaluations(afresh(fresh_db, RULES))


def test_a_check_with_no_new_bar_decides_from_kept_digests_and_loads_no_price(fresh_db) -> None:
    store(fresh_db, "X", [1, 2, 3, 2, 4, 5])
    store(fresh_db, "Y", [5, 4, 6, 7, 7, 8])
    first = check_rules(fresh_db, RULES, now=NOW)
    again = check_rules(fresh_db, RULES, now=NOW)
    assert first.market is not None and again.market is None  # nothing loaded
    assert again.reused == ("x-high", "y-high", "x-vs-y")
    store(fresh_db, "X", [6], start=6)  # the data version moves: the kept digests no longer hold
    moved = check_rules(fresh_db, RULES, now=NOW)
    assert moved.market is not None and moved.reused == ("y-high",)
    assert check_rules(fresh_db, RULES, now=NOW).market is None


def test_a_kept_digest_that_disagrees_is_checked_against_the_loaded_data(fresh_db) -> None:
    store(fresh_db, "X", [1, 2, 3, 2, 4, 5])
    store(fresh_db, "Y", [5, 4, 6, 7, 7, 8])
    first = check_rules(fresh_db, RULES, now=NOW)
    fresh_db.execute("UPDATE leaf_digests SET digest = 'forged' WHERE leaf = 'X'")
    again = check_rules(fresh_db, RULES, now=NOW)
    # The rules reading X are decided on the loaded market (their data did not change).
    assert again.market is not None and again.reused == ("x-high", "y-high", "x-vs-y")
    assert evaluations(again) == evaluations(first)
    assert check_rules(fresh_db, RULES, now=NOW).market is None  # the true digest kept again
