"""A check after new bars evaluates a stepped window rule on the tail of history its new bars
read, and steps a rule's quiet new bars from per-leg aggregates without a frame
(`bot.service.bar_steps`): session by session on real data, both must say exactly what the
whole history says."""

from __future__ import annotations

import collections
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from bot.cli.signal_cmds import check_json
from bot.config import load_settings
from bot.logging_setup import configure_logging
from bot.market import expected_last_session
from bot.rules.files import default_entries, parse_entries, read_entries
from bot.service.bar_steps import quiet_steps
from bot.service.evaluation import CheckReport, check_rules, load_market
from bot.service.tail_step import cut_from, tail_start
from signals.models import Evaluation, MarketData, PriceBar, RuleState
from signals.rules import Rule
from storage.db import Store, copy_database, open_db
from storage.prices import load_prices, upsert_bars
from storage.rule_state import load_states
from tests.rule_mix import generate_rules

_register_commands()

NOW = datetime(2025, 9, 30, 22, 0, tzinfo=UTC)
PRIMED_UNTIL = date(2025, 6, 2)  # then one session at a time
SESSIONS = 24
HISTORY_FROM = "2006-01-01"
REVISED = 12  # before this session's check, a past IWM bar inside every window is revised
# ...and a bar of 2016 made IWM's record: every aggregate since then (the record, the extreme
# since 2015, a since: window's anchor is before it) must see it at once.
OLD_RECORD = date(2016, 3, 1)


@pytest.fixture(scope="module")
def imported(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared prices and FRED rates, imported by the CLI."""
    db = tmp_path_factory.mktemp("tail") / "base.db"
    for args in (
        ("prices", "import", str(shared_data / "prices")),
        ("series", "import", str(shared_data / "macro" / "fred_rates_daily.csv")),
    ):
        result = CliRunner().invoke(app, ["--db", str(db), *args])
        assert result.exit_code == 0, result.output
    # Twenty years keep every rule's history real (and "since 2008" covered) at a tenth of
    # the cost of whole-history frames back to 1927, checked dozens of times here.
    store = open_db(db)
    try:
        store.execute("DELETE FROM prices WHERE date < ?", (HISTORY_FROM,))
        store.execute("DELETE FROM series WHERE date < ?", (HISTORY_FROM,))
    finally:
        store.close()
    return db


def the_rules() -> list[Rule]:
    defaults, _ = parse_entries(default_entries())
    generated, problems = parse_entries(read_entries(generate_rules(28), "generated.toml"))
    assert problems == []
    return defaults + generated


# Kinds and options the mix above has too few of: a since: window either way, an extreme low
# since a date, a record on the high, a curve's change either way, a bigger rate step.
MORE_RULES = """
[[rules]]
id = "iwm-vs-spy-since-2010"
type = "relative_crossover"
a = "IWM"
b = "SPY"
window = "since:2010-01-04"
direction = "either"
level = 20.0
hysteresis = 2.0

[[rules]]
id = "iwc-low-since-2015"
type = "extreme_since"
series = "IWC"
extreme = "low"
since = "2015-06-01"

[[rules]]
id = "iwm-high-record"
type = "new_high"
symbol = "IWM"
basis = "high"

[[rules]]
id = "curve-change-either"
type = "curve"
long = "DGS10"
short = "DGS2"
mode = "change"
change_bps = 10.0
sessions = 5
direction = "either"

[[rules]]
id = "dgs10-big-steps"
type = "rate_change"
series = "DGS10"
min_change_bps = 5.0
"""


def more_rules() -> list[Rule]:
    rules, problems = parse_entries(read_entries(MORE_RULES, "more.toml"))
    assert problems == []
    return the_rules() + rules


def sessions_after(db: Store, start: date, count: int) -> list[date]:
    days = load_prices(db, ["IWM"], start=start)["IWM"].index
    return [day.date() for day in days if day.date() > start][:count]


def revise_a_past_bar(db: Store, day: date, factor: float = 1.01) -> None:
    """A vendor's new vintage: IWM's bar on `day` 1 % higher (or by `factor`)."""
    row = load_prices(db, ["IWM"], start=day, end=day)["IWM"].iloc[0]
    bar = PriceBar(
        "IWM",
        day,
        high=row.high * factor,
        close=row.close * factor,
        adj_close=row.adj_close * factor,
    )
    upsert_bars(db, [replace(bar, source="revision")])


def check(db: Store, rules: list[Rule], market: MarketData, end: date, whole: bool) -> CheckReport:
    """The check of the session `end`, on the market as it stood then."""
    return check_rules(db, rules, now=NOW, market=up_to(market, end), whole_history=whole)


def up_to(market: MarketData, end: date) -> MarketData:
    stamp = pd.Timestamp(end)
    return MarketData(
        prices={name: frame[frame.index <= stamp] for name, frame in market.prices.items()},
        series={name: values[values.index <= stamp] for name, values in market.series.items()},
        sessions=market.sessions,
        series_notes=market.series_notes,
    )


def test_each_new_session_on_the_tail_says_what_the_whole_history_says(
    imported: Path, tmp_path: Path
) -> None:
    configure_logging(load_settings(None))  # new events are logged: to this test's stderr
    rules = more_rules()
    primed = open_db(copied(imported, tmp_path / "tail.db"))
    market = load_market(primed, rules)
    check(primed, rules, market, PRIMED_UNTIL, whole=True)  # primed once, copied
    primed.close()
    tail_db = open_db(tmp_path / "tail.db")
    whole_db = open_db(copied(tmp_path / "tail.db", tmp_path / "whole.db"))
    try:
        days = sessions_after(tail_db, PRIMED_UNTIL, SESSIONS)
        assert len(days) == SESSIONS
        events, kinds = 0, collections.Counter[str]()
        for number, day in enumerate(days):
            if number == REVISED:
                for db in (tail_db, whole_db):
                    revise_a_past_bar(db, days[number - 3])
                    revise_a_past_bar(db, OLD_RECORD, factor=3.0)
                market = load_market(tail_db, rules)
            quiet = stepped_quietly(tail_db, rules, market, day)
            on_tail = check(tail_db, rules, market, day, False)
            on_whole = check(whole_db, rules, market, day, True)
            assert check_json(on_tail) == check_json(on_whole), day
            assert [c.evaluation for c in on_tail.checks] == [c.evaluation for c in on_whole.checks]
            whole = {c.rule.id: c.evaluation for c in on_whole.checks}
            assert {key: quiet[key] for key in quiet} == {key: whole[key] for key in quiet}, day
            kinds.update(rule.type for rule in rules if rule.id in quiet)
            events += len(on_tail.new_events)
        assert events >= 5  # enough fired or reversed for the comparison to mean something
        assert len(kinds) == 7, kinds  # every kind stepped from its aggregates at least once
    finally:
        tail_db.close()
        whole_db.close()


def stepped_quietly(
    db: Store, rules: list[Rule], market: MarketData, day: date
) -> dict[str, Evaluation]:
    """What the check of `day` takes without a frame: the rules' quiet new bars."""
    states = load_states(db, [rule.id for rule in rules])
    return quiet_steps(rules, up_to(market, day), states, None, expected_last_session(NOW))


def copied(source: Path, target: Path) -> Path:
    copy_database(source, target)
    return target


def test_which_rules_step_on_a_tail() -> None:
    stepped = RuleState(last_session=date(2025, 6, 2))
    by_kind = {rule.type: rule for rule in the_rules()}
    starts = {kind: tail_start(rule, stepped) for kind, rule in by_kind.items()}
    assert starts["extreme_since"] is None  # an extreme since a date: the whole history
    assert (starts["new_high"] is None) == (by_kind["new_high"].lookback is None)
    assert starts["rate_change"] is None  # its summary names the last change, however old
    for kind in ("relative_crossover", "spread_threshold", "rally_from_low", "curve"):
        assert starts[kind] is not None and starts[kind] < date(2025, 6, 2), kind
    since = parse_entries(read_entries(SINCE_RULE, "since.toml"))[0][0]
    assert tail_start(since, stepped) is None  # a since: window reads back to its date
    assert tail_start(by_kind["spread_threshold"], stepped, as_of=date(2025, 5, 30)) is None
    assert all(tail_start(rule, None) is None for rule in by_kind.values())  # never stepped
    assert all(tail_start(rule, RuleState()) is None for rule in by_kind.values())
    live = parse_entries(
        read_entries(
            SINCE_RULE.replace("since:2010-01-04", "20d") + "intraday = true\n", "live.toml"
        )
    )[0][0]
    assert tail_start(live, stepped) is None  # intraday: its provisional bar, every check


SINCE_RULE = """
[[rules]]
id = "iwm-vs-spy-since"
type = "relative_crossover"
a = "IWM"
b = "SPY"
window = "since:2010-01-04"
"""


def test_a_tail_keeps_the_bar_before_its_start_so_a_hole_across_it_is_seen_whole() -> None:
    days = pd.bdate_range("2025-01-01", "2025-03-31", name="date")
    kept = days[(days < "2025-01-20") | (days > "2025-02-20")]  # a month-long hole
    frame = pd.DataFrame({"adj_close": range(len(kept))}, index=kept, dtype=float)
    market = MarketData(prices={"X": frame}, series={}, sessions=days)
    cut = cut_from(market, date(2025, 2, 3))
    assert cut.prices["X"].index[0] == pd.Timestamp("2025-01-17")  # the bar before the hole
    assert cut.sessions is not None and cut.sessions[0] == pd.Timestamp("2025-01-17")
    assert cut.prices["X"].index[-1] == kept[-1]
    whole = cut_from(market, date(2024, 6, 3))  # nothing before the start: everything
    assert whole.prices["X"].equals(frame) and whole.sessions is not None
    assert whole.sessions.equals(days)
