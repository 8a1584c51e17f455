"""`/signals` and `/signal ID` through the command core: real rules, real SQLite, no writes."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.chat.core import Commands, make_actor
from bot.chat.parsing import CommandError
from bot.config import Settings, load_settings
from bot.platforms import platform_names
from bot.rules.files import load_rules
from bot.safety import find_mentions, sanitize, walk_strings
from bot.sources.csv_dir import CsvDirSource
from signals.models import Event, PriceBar
from signals.rules import parse_rule
from storage.db import open_db
from storage.prices import set_statuses, upsert_bars
from storage.rule_state import record_events

NOW = datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
# Four sessions in a row: a gap of weeks would be a hole, and the rule NO DATA (issue 9 item 5).
AAA = {"2026-02-25": 99.0, "2026-02-26": 100.0, "2026-02-27": 104.0, "2026-03-02": 110.0}
RULES = [
    parse_rule({"type": "new_high", "id": "aaa-ath", "symbol": "AAA", "min_history": 2}),
    parse_rule({"type": "new_high", "id": "rut-ath", "symbol": "^RUT", "name": "@everyone <@&1>"}),
]


@pytest.fixture
def settings() -> Settings:
    return load_settings(None, discord_admin_ids=("1",))


@pytest.fixture
def core(fresh_db: Database, settings: Settings) -> Commands:
    bars = [PriceBar("AAA", date.fromisoformat(d), close=v, adj_close=v) for d, v in AAA.items()]
    upsert_bars(fresh_db, bars)
    return Commands(settings, fresh_db, rules=RULES, clock=lambda: NOW)


def _fired(rule_id: str, day: date, kind: str = "fired") -> Event:
    return Event(rule_id, kind, day, day.isoformat(), f"{rule_id} {kind}", 1.0)  # type: ignore[arg-type]


def test_signals_lists_every_rule_in_order(core: Commands) -> None:
    reply = core.signals()
    assert [row.rule_id for row in reply.rows] == ["aaa-ath", "rut-ath"]
    aaa, rut = reply.rows
    assert (aaa.status, aaa.phase, aaa.measure, aaa.threshold) == ("OK", "firing", 110.0, 104.0)
    assert aaa.session == date(2026, 3, 2) and "record 104.00" in aaa.summary
    assert rut.status == "NO DATA" and "^RUT" in rut.reason
    assert reply.text == "2 signals, 1 firing: aaa-ath."


def test_asking_never_writes_state_or_events(core: Commands, fresh_db: Database) -> None:
    core.signals()
    core.signal("aaa-ath")
    assert fresh_db.execute("SELECT count(*) FROM rule_state").fetchone()[0] == 0
    assert fresh_db.execute("SELECT count(*) FROM events").fetchone()[0] == 0


def test_last_fired_comes_from_the_event_log(core: Commands, fresh_db: Database) -> None:
    record_events(fresh_db, [_fired("aaa-ath", date(2026, 1, 2))])
    record_events(fresh_db, [_fired("aaa-ath", date(2026, 2, 2), "reversed")])
    (aaa, _) = core.signals().rows
    assert aaa.last_fired == date(2026, 1, 2)  # a later reversal is not a firing
    detail = core.signal("aaa-ath")
    assert [e.kind for e in detail.last_events] == ["reversed", "fired"]


def test_mutes_show_on_rows(core: Commands, settings: Settings) -> None:
    core.mute(make_actor(settings, "discord", "1"), "all", "2h")
    rows = core.signals().rows
    assert {row.muted_until for row in rows} == {(NOW + timedelta(hours=2)).isoformat()}


def test_signal_detail(core: Commands, settings: Settings) -> None:
    core.subscribe(make_actor(settings, "slack", "U1"), "all")
    detail = core.signal("AAA-ATH", make_actor(settings, "slack", "U2"))
    assert detail.row.rule_id == "aaa-ath"
    assert detail.parameters[0] == ("symbol", "AAA")
    assert detail.backtest is not None and detail.backtest.fired == 1
    assert detail.backtest.first_fired == date(2026, 2, 26)
    assert detail.chart is not None and detail.chart.kind == "new_high"
    assert detail.chart.legs == ("AAA",) and detail.chart.basis == "close"
    assert detail.subscribers == 1


def test_signal_without_data_has_no_backtest_or_chart(core: Commands) -> None:
    detail = core.signal("rut-ath")
    assert detail.row.status == "NO DATA"
    assert detail.chart is None
    assert detail.backtest is None or detail.backtest.fired == 0


def test_unknown_signal_suggests(core: Commands) -> None:
    with pytest.raises(CommandError, match="Did you mean aaa-ath"):
        core.signal("aaa-atj")
    with pytest.raises(CommandError, match="Unknown rule"):
        core.signal("all")


def test_rule_names_cannot_ping(core: Commands) -> None:
    for reply in (core.signals(), core.signal("rut-ath")):
        for platform in platform_names():
            texts = walk_strings(sanitize(reply, platform))
            assert any("everyone" in text for text in texts)
            assert all(find_mentions(text, platform) == [] for text in texts)


def test_rule_choices(core: Commands) -> None:
    assert core.rule_choices("ATH") == ["aaa-ath", "rut-ath"]
    assert core.rule_choices("rut") == ["rut-ath"]


def test_invalid_rules_file_is_one_line(fresh_db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text('[[rules]]\nid = "x"\ntype = "new_high"\n')
    core = Commands(load_settings(None, rules_path=bad), fresh_db, clock=lambda: NOW)
    with pytest.raises(CommandError, match="rules file is invalid"):
        core.signals()
    assert core.rule_choices("") == []  # autocomplete never raises


def test_an_edited_rules_file_is_seen_without_a_restart(fresh_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nid = "x-high"\ntype = "new_high"\nsymbol = "X"\n')
    core = Commands(load_settings(None, rules_path=path), fresh_db, clock=lambda: NOW)
    assert "x-high" in core.rule_ids()
    path.write_text('[[rules]]\nid = "x-high"\ntype = "new_high"\nsymbol = "X"\nenabled = false\n')
    assert "x-high" not in core.rule_ids()


# The default rules over real data


@pytest.fixture(scope="module")
def real_core() -> Iterator[Commands]:
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "prices").is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA}")
    db = open_db(None)
    wanted = ("IWC", "OEF", "IWM", "IWB", "^RUT", "^GSPC")
    result = CsvDirSource(SHARED_DATA / "prices").fetch(dict.fromkeys(wanted, date(1900, 1, 1)))
    for symbol in wanted:
        upsert_bars(db, result.bars[symbol])
    yield Commands(load_settings(None), db, clock=lambda: datetime(2026, 8, 24, tzinfo=UTC))
    db.close()


def test_default_rules_over_real_data(real_core: Commands) -> None:
    rows = {row.rule_id: row for row in real_core.signals().rows}
    assert list(rows) == [rule.id for rule in load_rules(real_core.settings)]
    assert rows["fed-rate-change"].status == "NO DATA"  # no FRED series imported here
    assert rows["rut-all-time-high"].status == "OK"
    assert rows["rut-all-time-high"].session == date(2026, 8, 21)


def test_backtest_count_matches_the_csv(real_core: Commands, shared_data: Path) -> None:
    detail = real_core.signal("rut-all-time-high")
    assert detail.backtest is not None and detail.backtest.fired > 0
    first = detail.backtest.first_fired
    assert first is not None and first >= date(2000, 1, 1)
    with (shared_data / "prices" / "^RUT.csv").open(newline="") as handle:
        closes = {date.fromisoformat(r["Date"]): float(r["Close"]) for r in csv.DictReader(handle)}
    before = [value for day, value in closes.items() if day < first]
    assert closes[first] > max(before)  # the first firing since 2000 is a real closing record


def test_repeated_signals_follow_writes_to_prices_flags_and_events(
    core: Commands, fresh_db: Database, settings: Settings
) -> None:
    fresh = Commands(settings, fresh_db, rules=RULES, clock=lambda: NOW)  # answers uncached
    core.signals()  # fills the cache
    assert core.signals() == fresh.signals()
    # A new record high: the cached answer must not survive the write.
    upsert_bars(fresh_db, [PriceBar("AAA", date(2026, 3, 2), close=120.0, adj_close=120.0)])
    aaa = core.signals().rows[0]
    assert (
        aaa.measure == 120.0
        and core.signals() == Commands(settings, fresh_db, rules=RULES, clock=lambda: NOW).signals()
    )
    # The service recorded a firing: "last fired" is read afresh, not from the cache.
    record_events(fresh_db, [_fired("aaa-ath", date(2026, 3, 2))])
    assert core.signals().rows[0].last_fired == date(2026, 3, 2)
    # Bars held back by the quality checks change the answer (status updates count as writes).
    set_statuses(fresh_db, "AAA", [(date(2026, 3, 2), "suspect", "a jump")])
    assert core.signals() == Commands(settings, fresh_db, rules=RULES, clock=lambda: NOW).signals()
    assert core.signals().rows[0].session == date(2026, 2, 27)


def test_the_cache_keys_on_the_rules_file_and_the_clock(fresh_db: Database, tmp_path: Path) -> None:
    bars = [PriceBar("AAA", date.fromisoformat(d), close=v, adj_close=v) for d, v in AAA.items()]
    upsert_bars(fresh_db, bars)
    path = tmp_path / "rules.toml"
    rule = '[[rules]]\nid = "aaa-ath"\ntype = "new_high"\nsymbol = "AAA"\nmin_history = {}\n'
    path.write_text(rule.format(2))
    settings = load_settings(None, rules_path=path)
    clock = [NOW]
    core = Commands(settings, fresh_db, clock=lambda: clock[0])
    early = core.signals()
    clock[0] = NOW + timedelta(days=10)  # the expected session moves on: AAA is stale now

    def uncached() -> object:
        return Commands(settings, fresh_db, clock=lambda: clock[0]).signals()

    assert core.signals() == uncached() != early
    assert early.rows[-1].status == "OK" and core.signals().rows[-1].status != "OK"
    clock[0] = NOW
    path.write_text(rule.format(9))  # an edited rule: too little history now
    assert core.signals() == uncached() != early
