"""Issue 23: the digest's weekly scorecard (recent firings against their track record)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.delivery.digest import Digest, digest_fields
from bot.delivery.scorecard import is_first_session_of_week, weekly_scorecard
from signals.evaluate import backtest_rule
from signals.models import MarketData, PriceBar
from signals.outcomes import track_record
from signals.rules import parse_rule
from signals.scorecard import score_recent
from storage.db import open_db
from storage.prices import upsert_bars
from storage.rule_state import record_events
from tests.bot.test_track_record_alert import DAYS, sawtooth
from tests.signals.builders import frame

RULE = parse_rule({"id": "x-high", "type": "new_high", "symbol": "X", "min_history": 2})


def test_a_recent_firing_against_the_earlier_ones_by_hand() -> None:
    market = MarketData(prices={"X": frame(DAYS, sawtooth(9))})
    record = track_record(RULE, market, backtest_rule(RULE, market))
    (line,) = score_recent(record, DAYS[360])  # only the record on row 400 is that recent
    assert (line.fired, line.sessions) == (DAYS[400], 49)  # rows 400 -> 449
    assert line.move == pytest.approx((160 / 171 - 1) * 100)  # from the record to its dip
    # Earlier firings whose 49 sessions had passed by row 400: rows 1, 50, ..., 350. Row 1
    # reached the next cycle's record (92 -> 101); the others their dip (91+10c -> 80+10c).
    assert line.past.count == 8 and line.past.positive == 1
    assert line.past.best == pytest.approx((101 / 92 - 1) * 100)
    assert line.base.count == 449 - 49  # rows 1 .. 400


def test_the_scorecard_comes_on_the_weeks_first_session(db_path: Path) -> None:
    db = open_db(db_path)
    bars = [PriceBar("X", d, close=c, adj_close=c) for d, c in zip(DAYS, sawtooth(9), strict=True)]
    upsert_bars(db, bars)
    monday = next(d for d in DAYS[420:] if is_first_session_of_week(d))
    # Only rules the event log shows active in the quarter are scored (the desk's alerts).
    assert weekly_scorecard(db, [RULE], monday) == ()
    market = MarketData(prices={"X": frame(DAYS, sawtooth(9))})
    record_events(db, [e for e in backtest_rule(RULE, market) if e.date == DAYS[400]])
    (text,) = weekly_scorecard(db, [RULE], monday)
    assert text.startswith(f"x-high fired {DAYS[400]}: X ")
    assert "; earlier firings after " in text and "(all sessions: " in text
    tuesday = next(d for d in DAYS[420:] if not is_first_session_of_week(d))
    assert weekly_scorecard(db, [RULE], tuesday) == ()
    db.close()


def test_the_digest_shows_it_as_a_field() -> None:
    digest = Digest(date(2026, 3, 2), (), (), (), ("x-high fired 2026-01-05: ...",))
    assert digest_fields(digest)[-1] == ("Weekly scorecard", "x-high fired 2026-01-05: ...")
    assert [name for name, _ in digest_fields(Digest(date(2026, 3, 2), (), (), ()))] == [
        "Leaderboard", "Key spreads", "Closest to firing",
    ]  # fmt: skip
