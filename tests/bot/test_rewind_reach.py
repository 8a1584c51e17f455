"""`rewound_states` (real SQLite): a rule steps again from the earliest resolved bar of its
legs that it had read past, within `REACH` of its last session, and only when its state was
saved before the bar was resolved."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from bot.market import load_market
from bot.rules.files import parse_entries, read_entries
from bot.service.rewind import REACH, rewound_states
from signals.models import PriceBar, RuleState
from storage.db import open_db
from storage.prices import set_statuses, upsert_bars
from storage.rule_state import load_states, save_states

LAST = date(2025, 6, 30)
RULE = '[[rules]]\nid = "x-high"\ntype = "extreme_since"\nseries = "X"\nsince = "2025-01-02"\n'


def test_a_rule_steps_again_from_the_earliest_bar_within_reach() -> None:
    db = open_db(None)
    [rule], problems = parse_entries(read_entries(RULE, "rules.toml"))
    assert problems == []
    days = [d.date() for d in pd.bdate_range(LAST - timedelta(days=200), LAST)]
    upsert_bars(
        db,
        [
            PriceBar("X", d, close=100.0 + i % 7, adj_close=100.0 + i % 7, source="t")
            for i, d in enumerate(days)
        ],
    )
    save_states(db, {rule.id: RuleState(last_session=LAST)})
    too_old, recent = days[0], LAST - timedelta(days=3)
    assert LAST - too_old > REACH >= LAST - recent
    for day in (too_old, recent, LAST - timedelta(days=10)):
        set_statuses(db, "X", [(day, "suspect", "one-day move")])
    set_statuses(db, "X", [(too_old, "accepted", ""), (recent, "accepted", "")])
    states = load_states(db)
    market = load_market(db, [rule])

    started, rewound = rewound_states(db, [rule], market, states)
    assert rewound[rule.id].since == recent and rewound[rule.id].passed == LAST
    assert started[rule.id].last_session is not None and started[rule.id].last_session < recent
    # Saved after the resolution: done (a later second than the rewind's row).
    db.execute("UPDATE rule_state SET updated_at = '9999-01-01T00:00:00+00:00'")
    assert rewound_states(db, [rule], market, states)[1] == {}
