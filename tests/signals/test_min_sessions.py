"""Issue 9 item 6: a ytd/qtd/mtd measure may fire only once its window spans `min_sessions`."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bot.sources.csv_dir import CsvDirSource
from signals.evaluate import backtest_rule, evaluate_rule
from signals.models import PRICE_COLUMNS, MarketData
from signals.rule_fields import RuleError
from signals.rules import DEFAULT_MIN_SESSIONS, parse_rule
from tests.signals.builders import frame, market, sessions


def crossover(**extra: object):
    return parse_rule({"id": "x", "type": "relative_crossover", "a": "A", "b": "B", **extra})


def lead_from_second_session(anchor: str, first: str) -> MarketData:
    """A leads B by 2 pp from the period's second session on, for eight sessions."""
    days = [date.fromisoformat(anchor), *sessions(first, 8)]
    a = [100.0, 99.0] + [102.0] * 7
    return market({"A": frame(days, a), "B": frame(days, [100.0] * 9)})


@pytest.mark.parametrize(
    ("window", "anchor", "first"),
    [("ytd", "2024-12-31", "2025-01-02"), ("qtd", "2025-03-31", "2025-04-01"),
     ("mtd", "2025-04-30", "2025-05-01")],
)  # fmt: skip
def test_period_to_date_rule_waits_for_min_sessions(window: str, anchor: str, first: str) -> None:
    data = lead_from_second_session(anchor, first)
    days = list(data.prices["A"].index.date)
    (event,) = backtest_rule(crossover(window=window), data)
    assert event.kind == "fired" and event.date == days[DEFAULT_MIN_SESSIONS]
    (eager,) = backtest_rule(crossover(window=window, min_sessions=1), data)
    assert eager.date == days[2]  # what the default prevents: firing on the second session


def test_status_says_why_the_rule_waits() -> None:
    data = lead_from_second_session("2024-12-31", "2025-01-02")
    days = list(data.prices["A"].index.date)
    waiting = evaluate_rule(crossover(), data, as_of=days[2])
    assert waiting.status == "NO DATA" and waiting.events == ()
    assert waiting.reason == (
        "waiting: the ytd window spans 2 of the 5 sessions it needs before it may fire "
        "(min_sessions)"
    )
    assert waiting.summary == "A +2.0% vs B +0.0% ytd (+2.0 pp)"  # the new year, not the last
    ready = evaluate_rule(crossover(), data, waiting.state, as_of=days[5])
    assert ready.status == "OK" and [e.date for e in ready.events] == [days[5]]


def test_other_windows_ignore_min_sessions() -> None:
    data = lead_from_second_session("2024-12-31", "2025-01-02")
    days = list(data.prices["A"].index.date)
    (event,) = backtest_rule(crossover(window="2d", min_sessions=20), data)
    assert event.date == days[2]  # the first bar with a 2-session return, the lead already on


def test_min_sessions_is_checked() -> None:
    with pytest.raises(RuleError, match="min_sessions: must be at most 19 for window mtd"):
        crossover(window="mtd", min_sessions=20)
    with pytest.raises(RuleError, match="min_sessions: must be between 1 and 250"):
        crossover(min_sessions=0)
    assert crossover(window="qtd", min_sessions=60).min_sessions == 60
    spread = {"id": "s", "type": "spread_threshold", "a": "A", "b": "B", "threshold_bps": 100}
    assert parse_rule({**spread, "window": "ytd", "min_sessions": 3}).min_sessions == 3


def _prices(shared_data: Path, *symbols: str) -> MarketData:
    bars = CsvDirSource(shared_data / "prices").fetch(dict.fromkeys(symbols, date(1990, 1, 1)))
    frames = {}
    for symbol, rows in bars.bars.items():
        data = pd.DataFrame([{c: getattr(b, c) for c in PRICE_COLUMNS} for b in rows])
        index = pd.DatetimeIndex([pd.Timestamp(b.date) for b in rows], name="date")
        frames[symbol] = data.set_index(index).astype({"final": bool})
    return MarketData(prices=frames)


def test_real_iwc_over_oef_no_longer_fires_on_the_years_second_session(shared_data: Path) -> None:
    # The default rule fired on 2025-01-03 (+2.4 % vs +0.9 %) and reversed on 2025-01-08.
    data = _prices(shared_data, "IWC", "OEF")
    spec = {"id": "iwc-overtakes-oef-ytd", "type": "relative_crossover", "a": "IWC", "b": "OEF",
            "window": "ytd", "confirm": 2, "hysteresis": 1.5}  # fmt: skip
    january = (date(2025, 1, 1), date(2025, 1, 31))
    noisy = backtest_rule(parse_rule({**spec, "min_sessions": 1}), data, *january)
    assert [(e.kind, e.date) for e in noisy] == [
        ("fired", date(2025, 1, 3)), ("reversed", date(2025, 1, 8)),
    ]  # fmt: skip
    assert backtest_rule(parse_rule(spec), data, *january) == []
    waiting = evaluate_rule(parse_rule(spec), data, as_of=date(2025, 1, 3))
    assert waiting.status == "NO DATA" and waiting.reason.startswith("waiting: the ytd window")
