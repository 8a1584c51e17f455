"""The backtest's reading path (issue 22, goal 4): settings and the database read as the
reading commands read them, only its own command registered, the imports kept out of the
cyclic collector's way. It must say what the engine says on a market read the plain way
(one query and a groupby per table), and leave nothing behind: no frozen objects in a
process that runs more commands, no database left open."""

from __future__ import annotations

import gc
import io
import json
import random
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.markup import escape
from typer.testing import CliRunner

from bot import calendar
from bot.cli import _register_commands, app, backtest_cmd
from bot.config import load_settings
from bot.market import load_backtest_market, load_market, nyse_sessions, session_index
from bot.rules.files import parse_entries, read_entries
from bot.rules.stored import rules_in_force
from signals.evaluate import backtest_report
from signals.legs import DataError
from signals.models import PRICE_COLUMNS, MarketData, PriceBar, SeriesPoint
from signals.rules import Rule
from signals.statuses import SUSPECT
from storage.db import open_db
from storage.prices import load_prices, set_statuses, upsert_bars
from storage.rule_state import event_to_payload
from storage.series import load_series, upsert_points
from tests.bot.test_light_starts import heavy_modules_after
from tests.rule_mix import EQUITIES, RATES, TARGETS, YIELDS, generate_rules

if not any(group.name == "rules" for group in app.registered_groups):
    _register_commands()

FIRST = date(2022, 1, 3)
# Modules a backtest start must not import: the full settings model and sqlite-utils'
# Database (it only reads), other commands' modules, the track records without --outcomes.
NOT_ON_A_BACKTEST = (
    "pydantic",
    "pydantic_settings",
    "sqlite_utils.db",
    "bot.cli.run",
    "bot.cli.prices_data",
    "bot.cli.status_cmd",
    "bot.cli.outcomes_output",
)


def _walk(rng: random.Random, days: list[date], start: float, step: float) -> list[float]:
    level, found = start, []
    for _ in days:
        level = max(level * (1 + rng.gauss(0.0003, step)), 0.01)
        found.append(round(level, 4))
    return found


def _priced(symbol: str, days: list[date], values: list[float], *columns: str) -> list[PriceBar]:
    pairs = zip(days, values, strict=True)
    return [PriceBar(symbol, day, **dict.fromkeys(columns, value)) for day, value in pairs]


def _fill(path: Path) -> None:
    """Two and a half years of every symbol and rate the default and generated rules read,
    with what real data has: a symbol listed later, a hole of ten sessions, columns missing
    (opens, highs and lows only here and there), suspect bars."""
    rng = random.Random(22)
    days = calendar.sessions_between(FIRST, date(2024, 6, 28))
    db = open_db(path)
    for symbol in (*EQUITIES, *YIELDS):
        closes = _walk(rng, days, 100.0, rng.choice((0.01, 0.015, 0.02)))
        upsert_bars(db, _priced(symbol, days, closes, "close", "adj_close"))
        upsert_bars(db, _priced(symbol, days[-80:], closes[-80:], "open", "high", "low"))
    late, holed = days[200:], days[:300] + days[310:]
    upsert_bars(db, _priced("IWC", late, _walk(rng, late, 50.0, 0.02), "open", "adj_close"))
    upsert_bars(db, _priced("OEF", holed, _walk(rng, holed, 200.0, 0.01), "close", "adj_close"))
    set_statuses(db, "IWM", [(days[40], SUSPECT, "jump"), (days[41], SUSPECT, "jump")])
    for series_id in (*RATES, *TARGETS):
        values = [round(v, 2) for v in _walk(rng, days, rng.uniform(0.1, 4.0), 0.02)]
        pairs = zip(days, values, strict=True)
        upsert_points(db, [SeriesPoint(series_id, day, value) for day, value in pairs])
    db.close()


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backtest") / "rotation.db"
    _fill(path)
    return path


def _invoke(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--db", str(path), "backtest", *args])
    return result.exit_code, result.stdout


def _plainly_read(path: Path) -> tuple[list, MarketData]:
    """The rules in force and a market read through the all-symbols and all-ids queries."""
    db = open_db(path)
    rules = rules_in_force(load_settings(db_path=path), db)
    market = MarketData(load_prices(db), load_series(db), nyse_sessions(date.today()))
    db.close()
    return rules, market


def test_backtest_says_what_the_engine_says_on_a_plainly_read_market(filled: Path) -> None:
    code, out = _invoke(filled, "--json", "--from", "2023-01-01")
    assert code == 1  # the valuation rule reads French library series this data lacks
    printed = {rule["id"]: rule["events"] for rule in json.loads(out)["rules"]}
    rules, market = _plainly_read(filled)
    expected = {}
    for rule in rules:
        try:
            events, _ = backtest_report(rule, market, date(2023, 1, 1))
        except DataError:
            events = []
        keys = ("kind", "episode", "title", "measure", "threshold", "unit", "direction")
        expected[rule.id] = [
            {"date": e.date.isoformat(), **{k: getattr(e, k) for k in keys}} for e in events
        ]
    assert printed == json.loads(json.dumps(expected))  # floats as JSON gives them back
    assert sum(len(events) for events in expected.values()) > 10


@pytest.mark.parametrize("today", [date(1990, 1, 2), date(2024, 6, 29), date.today()])
def test_the_session_index_is_the_nyse_sessions(today: date) -> None:
    pd.testing.assert_index_equal(session_index(today), nyse_sessions(today), exact=True)


def _events_or_error(rule: Rule, market: MarketData) -> list[dict] | str:
    try:
        events, holes = backtest_report(rule, market, date(2023, 1, 1))
    except DataError as error:
        return str(error)
    return [event_to_payload(event) for event in events] + [hole.describe() for hole in holes]


def test_the_backtests_market_steps_every_rule_kind_as_the_whole_market(filled: Path) -> None:
    # The backtest loads of each bar only `final` and the columns the measures read: every
    # kind of generated rule (bases, windows, pairs, yields as prices) must say the same.
    rules, problems = parse_entries(read_entries(generate_rules(40), "<generated>"))
    assert not problems
    db = open_db(filled)
    whole, some = load_market(db, rules), load_backtest_market(db, rules)
    db.close()
    assert some.prices.keys() == whole.prices.keys() and some.series.keys() == whole.series.keys()
    assert {len(frame.columns) for frame in some.prices.values()} < set(range(len(PRICE_COLUMNS)))
    said = [_events_or_error(rule, whole) for rule in rules]
    assert [_events_or_error(rule, some) for rule in rules] == said
    assert sum(isinstance(events, list) and len(events) > 0 for events in said) > 12


def test_backtest_leaves_nothing_frozen_and_the_database_closed(filled: Path) -> None:
    code, out = _invoke(filled, "--from", "2023-01-01")
    assert code == 1 and "fired)" in out
    assert gc.get_freeze_count() == 0  # tests (and the service) go on collecting as before
    assert not Path(f"{filled}-wal").exists()  # the last connection closed: WAL checkpointed


def test_a_backtest_start_reads_without_the_models_or_other_commands(filled: Path) -> None:
    assert heavy_modules_after(filled, "backtest", heavy=NOT_ON_A_BACKTEST) == []


# Lines as a backtest prints them, and what rich would change: emoji codes, markup, tabs,
# wide and control characters, lines longer than the console.
_PIECES = st.sampled_from(
    [" ", "  ", "a", "IWC", "+5.6%", ": ", ":", ":smile:", ":x:", "[bold]", "[/]", "]", "\\",
     "\t", "\x1b", "é", "株", "😄", "2024-01-02", "fired   ", "x" * 30]
)  # fmt: skip
_LINES = st.lists(st.lists(_PIECES, max_size=8).map("".join), min_size=1, max_size=4)


def _through(console: Console, print_it: object, *args: object) -> str:
    """What `print_it` writes on `console`, standing in for the CLI's console."""
    saved = backtest_cmd.console
    backtest_cmd.console = console
    try:
        print_it(*args)  # type: ignore[operator]
    finally:
        backtest_cmd.console = saved
    return console.file.getvalue()  # type: ignore[attr-defined]


@settings(max_examples=150, deadline=None)
@given(lines=_LINES, width=st.sampled_from([20, 80]), reason=_LINES)
def test_plain_lines_are_written_as_rich_would_write_them(
    lines: list[str], width: int, reason: list[str]
) -> None:
    text = "\n".join(lines)
    fast = _through(Console(file=io.StringIO(), width=width), backtest_cmd._print_plain, text)
    slow = Console(file=io.StringIO(), width=width)
    slow.print(text, markup=False, highlight=False)
    assert fast == slow.file.getvalue()
    result = {"id": "r-1", "status": "OK", "reason": reason[0], "events": []}
    heading = Console(file=io.StringIO(), width=width)
    fast = _through(heading, backtest_cmd._print_heading, result, 3)
    slow = Console(file=io.StringIO(), width=width)
    slow.print(f"[bold]r-1[/]: OK {escape(reason[0])} (3 fired)")
    assert fast == slow.file.getvalue()
