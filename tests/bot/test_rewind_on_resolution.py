"""Issue 19, item 5: a bar resolved after its rules read past it brings back what it blocked.

IWM's close of 2020-02-11, 3 % high, would fire a 5-session IWM-IWB spread (+270 bps). Held
(Stooq disagrees, or a person rejected it), the rule steps past it on 02-12. Resolved later
(accepted; a rejected value the vendor corrects), the next check steps the rule again from
02-11: the event fires once, late, saying why, even when that check is killed before it
records anything. A resolution changes the rule's reuse key (bot/service/check_reuse.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.market import expected_last_session, load_market
from bot.rules.files import load_rules
from bot.service.check_reuse import _inputs
from storage.db import open_db
from tests.bot.test_second_source_evidence import (
    SPREAD_RULE,
    SPREAD_START,
    invoke,
    new_events,
    only_rule,
    scaled_chart,
)
from tests.fakes.stooq import FakeStooq, rows_from_prices, serve_stooq
from tests.fakes.yahoo import start_fake_yahoo

EVE, NEXT = date(2020, 2, 11), date(2020, 2, 12)
LATE_ACCEPTED = "held as suspect until a person accepted it (second source Stooq iwm.us"


def held_by_stooq_then_read_past(
    shared_data: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """IWM's 02-11 close 3 % high, held by Stooq; 02-12 stored and checked (stepped past)."""
    iwm, iwb = (shared_data / "prices" / f"{name}.csv" for name in ("IWM", "IWB"))
    with serve_stooq(
        FakeStooq(symbols={"iwm.us": rows_from_prices(iwm, SPREAD_START, NEXT)})
    ) as stooq:
        for fake in start_fake_yahoo(monkeypatch):
            monkeypatch.setenv("ROTATION_YAHOO_URL", fake.base_url)
            monkeypatch.setenv("ROTATION_FETCH_RETRIES", "0")
            monkeypatch.setenv("ROTATION_HISTORY_START", SPREAD_START.isoformat())
            monkeypatch.setenv("STOOQ_CSV_URL", stooq.url)
            monkeypatch.setenv("ROTATION_SECOND_SOURCE", "IWM=stooq:iwm.us")
            for end in (date(2020, 2, 10), EVE, NEXT):
                fake.add_chart(scaled_chart(iwm, "IWM", SPREAD_START, end, {EVE: 1.03}))
                fake.add_chart(scaled_chart(iwb, "IWB", SPREAD_START, end, {}))
                assert invoke(db_path, "prices", "update", "IWM", "IWB").exit_code == 0
                assert new_events(db_path) == []
    monkeypatch.setenv("ROTATION_SECOND_SOURCE", "")


def test_an_accepted_bar_read_past_fires_its_event_late_once(
    shared_data: Path, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_rule(tmp_path, monkeypatch, SPREAD_RULE)
    held_by_stooq_then_read_past(shared_data, db_path, monkeypatch)
    rules = [rule for rule in load_rules(load_settings(None)) if rule.enabled]
    before = reuse_key(db_path, rules)
    assert invoke(db_path, "prices", "accept", "IWM", str(EVE)).exit_code == 0
    assert reuse_key(db_path, rules) != before  # the resolved bar changes IWM's digest

    events = new_events(db_path)
    kinds = [(event["date"], event["kind"]) for event in events]
    assert kinds == [(str(EVE), "fired"), (str(NEXT), "reversed")]
    fired, reversed_ = events
    assert LATE_ACCEPTED in fired["description"]
    assert ["Data check", "accepted by a person"] in fired["fields"]
    print(fired["description"], reversed_["description"], reversed_["fields"], sep="\n")
    assert f"the bar of IWM on {EVE} was accepted by a person on " in reversed_["description"]
    assert f"evaluated again from {EVE}" in reversed_["description"]
    assert new_events(db_path) == []  # a second check repeats nothing


def reuse_key(db_path: Path, rules: list) -> str:
    db = open_db(str(db_path))
    try:
        market = load_market(db, rules)
        expected = expected_last_session(datetime_now())
        return _inputs(rules[0], market, rules[0].fingerprint(), None, expected)
    finally:
        db.close()


def datetime_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
