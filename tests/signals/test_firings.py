"""A record's firing days, searched without events, are the full backtest's fired days."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings

from bot.outcomes import compute_record
from bot.rules.files import default_entries, parse_entries, read_entries
from signals.evaluate import backtest_rule
from signals.firings import firing_days, firing_positions
from signals.models import MarketData, RuleState
from signals.outcomes import track_record
from signals.rules import Rule
from signals.state import MachineOptions, run_steps
from tests.rule_mix import generate_rules
from tests.signals.builders import read_csv_frame
from tests.signals.strategies import DISTANCES, machine_options

START = np.datetime64("2025-01-06")


@settings(max_examples=400, deadline=None)
@given(xs=DISTANCES, options=machine_options(("episode", "episode", "once", "once_per_bar")))
def test_the_searched_firings_are_the_stepped_firings(
    xs: list[float], options: MachineOptions
) -> None:
    values = np.asarray(xs, dtype=np.float64)
    stamps = START + np.arange(len(values)).astype("timedelta64[D]")
    days = [date(2025, 1, 6) + timedelta(days=i) for i in range(len(values))]
    _, transitions = run_steps(RuleState(), values, days, options)
    assert firing_days(values, stamps, options) == [t.day for t in transitions if t.kind == "fired"]


def test_only_once_per_bar_and_interacting_sides_are_stepped() -> None:
    values = np.array([1.0, -1.0, 1.0])
    assert firing_positions(values, MachineOptions(trigger="once_per_bar")) is None
    assert firing_positions(values, MachineOptions(two_sided=True, cooldown=2)) is None
    assert firing_positions(values, MachineOptions(two_sided=True)).tolist() == [0, 1, 2]
    assert firing_positions(values, MachineOptions(cooldown=1)).tolist() == [0, 2]
    assert firing_positions(values, MachineOptions(cooldown=2)).tolist() == [0]


def shared_market(data: Path) -> MarketData:
    """Every shared price file and FRED rate, on SPY's sessions (so legs' missing sessions
    are holes the records must leave out exactly as the backtest does)."""
    prices = {path.stem: read_csv_frame(path) for path in sorted((data / "prices").glob("*.csv"))}
    for symbol, start in (("IWM", "2008-10-06"), ("QQQ", "2020-03-16")):  # a week's hole
        frame = prices[symbol]
        prices[symbol] = frame.drop(frame.loc[start:].index[:5])
    rates = pd.read_csv(data / "macro" / "fred_rates_daily.csv", parse_dates=["date"])
    rates = rates.set_index("date")
    series = {name: rates[name].dropna().rename(name) for name in rates.columns}
    return MarketData(prices=prices, series=series, sessions=prices["SPY"].index)


# Triggers and options the generated mix has few of: `once`, `once_per_bar`, two sides held
# back by a cooldown or an inclusive threshold, each on a leg with a hole.
MORE_RULES = """
[[rules]]
id = "iwm-spy-once-per-bar"
type = "relative_crossover"
a = "IWM"
b = "SPY"
window = "21d"
direction = "up"
trigger = "once_per_bar"
cooldown = 3

[[rules]]
id = "iwm-spy-either-cooldown"
type = "relative_crossover"
a = "IWM"
b = "SPY"
window = "63d"
direction = "either"
confirm = 2
cooldown = 10
hysteresis = 1.0

[[rules]]
id = "qqq-rsp-once"
type = "spread_threshold"
a = "QQQ"
b = "RSP"
window = "42d"
threshold_bps = 300.0
direction = "up"
trigger = "once"

[[rules]]
id = "curve-change-either"
type = "curve"
long = "DGS10"
short = "DGS2"
mode = "change"
change_bps = 10.0
sessions = 5
direction = "either"
cooldown = 4
"""


def mixed_rules() -> list[Rule]:
    defaults, _ = parse_entries(default_entries())
    generated, problems = parse_entries(read_entries(generate_rules(70, seed=22), "mix.toml"))
    more, more_problems = parse_entries(read_entries(MORE_RULES, "more.toml"))
    assert problems == more_problems == []
    return defaults + generated + more


def test_the_fast_record_is_the_full_backtests_record_on_the_shared_data(
    shared_data: Path,
) -> None:
    market = shared_market(shared_data)
    compared = 0
    for number, rule in enumerate(mixed_rules()):
        # Up to the data's end and, for every third rule, up to a firing in the past.
        as_of = date(2019, 3, 29) if number % 3 == 0 else None
        fast = compute_record(rule, market, as_of=as_of)
        if fast is None:  # a leg without data: the backtest has nothing either
            continue
        full = track_record(rule, market, backtest_rule(rule, market, end=as_of), as_of=as_of)
        assert fast == full, rule.id
        assert fast.grid.equals(full.grid), rule.id
        compared += 1
    assert compared >= 60
