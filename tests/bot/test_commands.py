"""The command core over real SQLite: spread, subscriptions, mutes, acks, help, bad input."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.chat.core import Commands, make_actor
from bot.chat.parsing import CommandError
from bot.chat.replies import Actor
from bot.chat.spread_query import spread_from_cache
from bot.config import Settings, load_settings
from bot.sources.csv_dir import CsvDirSource
from signals.measures import spread
from signals.models import MarketData, PriceBar
from signals.rules import parse_rule
from storage import renotify
from storage import subscriptions as subs
from storage.db import open_db
from storage.prices import load_prices, upsert_bars

NOW = datetime(2026, 3, 2, 21, 0, tzinfo=UTC)

RULES = [
    parse_rule({"type": "new_high", "id": "rut-ath", "symbol": "^RUT"}),
    parse_rule({"type": "new_high", "id": "iwm-ath", "symbol": "IWM"}),
    parse_rule({"type": "relative_crossover", "id": "iwc-over-oef", "a": "IWC", "b": "OEF"}),
]

# adj_close per session; AAA +10 % YTD and BBB +5 % YTD on 2026-03-02.
AAA = {"2025-12-30": 99.0, "2025-12-31": 100.0, "2026-01-02": 104.0, "2026-03-02": 110.0}
BBB = {"2025-12-30": 49.0, "2025-12-31": 50.0, "2026-01-02": 51.0, "2026-03-02": 52.5}


def bars(symbol: str, values: dict[str, float], *, final: bool = True) -> list[PriceBar]:
    """Hand-made bars: close = adj_close = the value."""
    return [
        PriceBar(symbol, date.fromisoformat(d), close=v, adj_close=v, final=final, source="test")
        for d, v in values.items()
    ]


@pytest.fixture
def settings() -> Settings:
    return load_settings(None, discord_admin_ids=("111", "999"), slack_admin_ids=("UADMIN",))


@pytest.fixture
def core(fresh_db: Database, settings: Settings) -> Commands:
    upsert_bars(fresh_db, bars("AAA", AAA) + bars("BBB", BBB))
    return Commands(settings, fresh_db, rules=RULES, clock=lambda: NOW)


@pytest.fixture
def user(settings: Settings) -> Actor:
    return make_actor(settings, "discord", "42")


@pytest.fixture
def admin(settings: Settings) -> Actor:
    return make_actor(settings, "discord", "7", role_ids=("999",))


# /spread


def test_spread_from_hand_made_bars(core: Commands) -> None:
    reply = core.spread("aaa", "bbb", "ytd")
    assert (reply.a.symbol, reply.b.symbol) == ("AAA", "BBB")
    assert reply.a.return_pct == pytest.approx(10.0)
    assert reply.b.return_pct == pytest.approx(5.0)
    assert reply.spread_bps == pytest.approx(500.0)
    assert (reply.a.start, reply.a.end) == (date(2025, 12, 31), date(2026, 3, 2))
    assert reply.chart.kind == "relative" and reply.chart.legs == ("AAA", "BBB")
    assert "+500 bps" in reply.text


def test_spread_default_window_is_ytd(core: Commands) -> None:
    assert core.spread("AAA", "BBB").window == "ytd"


def test_spread_sessions_window_and_as_of(core: Commands) -> None:
    reply = core.spread("AAA", "BBB", "1d", as_of=date(2026, 1, 2))
    assert reply.a.return_pct == pytest.approx(4.0)
    assert reply.b.return_pct == pytest.approx(2.0)
    assert reply.as_of == date(2026, 1, 2)


def test_spread_price_basis_uses_close(fresh_db: Database, settings: Settings) -> None:
    upsert_bars(
        fresh_db,
        [
            PriceBar("S", date(2025, 12, 31), close=10.0, adj_close=20.0),
            PriceBar("S", date(2026, 1, 5), close=11.0, adj_close=21.0),
            PriceBar("T", date(2025, 12, 31), close=10.0, adj_close=10.0),
            PriceBar("T", date(2026, 1, 5), close=10.0, adj_close=10.0),
        ],
    )
    core = Commands(settings, fresh_db, rules=RULES, clock=lambda: NOW)
    assert core.spread("S", "T", basis="price").spread_bps == pytest.approx(1000.0)
    assert core.spread("S", "T").spread_bps == pytest.approx(500.0)
    with pytest.raises(CommandError, match="Basis"):
        core.spread("S", "T", basis="log")


def test_unknown_symbol_suggests_cached_ones(core: Commands) -> None:
    with pytest.raises(CommandError, match=r"No data for AAB\. Did you mean AAA"):
        core.spread("AAB", "BBB")


@pytest.mark.parametrize(
    ("a", "b", "window", "message"),
    [
        ("AAA", "aaa", None, "two different symbols"),
        ("AAA", None, None, "Missing symbol"),
        ("A A", "BBB", None, "not a ticker"),
        ("AAA", "BBB", "5y", "Unknown window"),
        ("AAA", "BBB", "since:2030-01-01", "before today"),
        ("AAA", "BBB", "since:2020-01-01", "history starts 2025-12-30"),
        ("AAA", "BBB", "10d", "too short"),
    ],
)
def test_spread_bad_input_is_one_line(
    core: Commands, a: str | None, b: str | None, window: str | None, message: str
) -> None:
    with pytest.raises(CommandError, match=message) as caught:
        core.spread(a, b, window)
    assert "\n" not in caught.value.message


def test_provisional_bars_are_not_used(fresh_db: Database, settings: Settings) -> None:
    upsert_bars(fresh_db, bars("AAA", AAA) + bars("BBB", BBB))
    upsert_bars(fresh_db, bars("AAA", {"2026-03-03": 200.0}, final=False))
    core = Commands(settings, fresh_db, rules=RULES, clock=lambda: NOW)
    assert core.spread("AAA", "BBB").a.end == date(2026, 3, 2)


def test_legs_ending_on_different_sessions_are_noted(
    fresh_db: Database, settings: Settings
) -> None:
    upsert_bars(fresh_db, bars("AAA", AAA) + bars("BBB", BBB))
    upsert_bars(fresh_db, bars("AAA", {"2026-03-03": 111.0}))
    core = Commands(settings, fresh_db, rules=RULES, clock=lambda: NOW)
    reply = core.spread("AAA", "BBB")
    assert reply.as_of == date(2026, 3, 2)  # the engine measures both legs to the common end
    assert reply.a.end == date(2026, 3, 2)


def test_gap_wider_than_the_load_margin_falls_back_to_full_history(
    fresh_db: Database, settings: Settings
) -> None:
    # Four sessions back lies before a 360-day hole: the trimmed load cannot see it.
    values = {"2024-01-02": 1.0, "2024-01-03": 2.0}
    values |= {f"2025-01-{day:02d}": 4.0 for day in (6, 7, 8, 9)}
    upsert_bars(fresh_db, bars("GAP", values) + bars("FULL", values))
    core = Commands(settings, fresh_db, rules=RULES, clock=lambda: NOW)
    reply = core.spread("GAP", "FULL", "4d")
    assert reply.a.start == date(2024, 1, 3)
    assert reply.a.return_pct == pytest.approx(100.0)


def test_unknown_symbol_fetched_from_the_data_source(
    core: Commands, tmp_path: Path, settings: Settings
) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "NEW.csv").write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n2025-12-31,,,,80,80,\n2026-03-02,,,,88,88,\n"
    )
    core.source = CsvDirSource(folder)
    reply = core.spread("new", "AAA")
    assert reply.a.return_pct == pytest.approx(10.0)
    assert reply.notes and "fetched 2 bars" in reply.notes[0]
    assert core.spread("NEW", "AAA").notes == ()  # cached now
    with pytest.raises(CommandError, match="No data for NOPE"):
        core.spread("NOPE", "AAA")


# Real data: compare with returns computed independently from the CSV rows.


def _csv_adj_close(path: Path) -> dict[date, float]:
    with path.open(newline="") as handle:
        return {
            date.fromisoformat(row["Date"]): float(row["Adj Close"])
            for row in csv.DictReader(handle)
            if row["Adj Close"]
        }


@pytest.fixture(scope="module")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "prices").is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA}")
    db = open_db(tmp_path_factory.mktemp("real") / "real.db")
    for symbol in ("IWC", "OEF", "IWM", "^GSPC"):
        upsert_bars(
            db, CsvDirSource(SHARED_DATA / "prices").fetch({symbol: date(1900, 1, 1)}).bars[symbol]
        )
    yield db
    db.close()


def test_real_ytd_spread_matches_the_csv_rows(real_db: Database, shared_data: Path) -> None:
    iwc = _csv_adj_close(shared_data / "prices" / "IWC.csv")
    oef = _csv_adj_close(shared_data / "prices" / "OEF.csv")
    end = min(max(iwc), max(oef))
    expected = {}
    for name, rows in (("IWC", iwc), ("OEF", oef)):
        anchor = max(d for d in rows if d.year < end.year)
        expected[name] = (rows[end] / rows[anchor] - 1) * 100
    core = Commands(load_settings(None), real_db, rules=RULES, clock=lambda: NOW)
    reply = core.spread("IWC", "OEF", "ytd")
    assert reply.as_of == end
    assert reply.a.return_pct == pytest.approx(expected["IWC"], abs=1e-9)
    assert reply.b.return_pct == pytest.approx(expected["OEF"], abs=1e-9)
    assert reply.spread_bps == pytest.approx((expected["IWC"] - expected["OEF"]) * 100, abs=1e-6)


@pytest.mark.parametrize(
    "window",
    ["ytd", "qtd", "mtd", "1m", "3m", "6m", "1y", "1d", "42d", "252d", "2520d",
     "since:2008-10-10", "since:2026-01-01", "since:1990-01-01"],
)  # fmt: skip
@pytest.mark.parametrize("as_of", [None, date(2020, 3, 23), date(2009, 1, 2)])
def test_trimmed_load_gives_the_engine_answer_on_full_history(
    real_db: Database, window: str, as_of: date | None
) -> None:
    market = MarketData(prices=load_prices(real_db, ["IWM", "^GSPC"]))
    try:
        expected = spread(market, "IWM", "^GSPC", window, as_of)
    except ValueError as error:
        with pytest.raises(ValueError) as caught:
            spread_from_cache(real_db, "IWM", "^GSPC", window, as_of=as_of)
        assert str(caught.value) == str(error)
        return
    assert spread_from_cache(real_db, "IWM", "^GSPC", window, as_of=as_of) == expected


# /subscribe, /unsubscribe, /subscriptions


def test_subscribe_list_unsubscribe(core: Commands, user: Actor) -> None:
    assert core.subscriptions(user).rows == ()
    reply = core.subscribe(user, "RUT-ATH", None)
    assert (reply.action, reply.rule_id, reply.mode) == ("subscribed", "rut-ath", "mention")
    assert core.subscribe(user, "rut-ath", "dm").action == "updated"
    core.subscribe(user, "all", "mention")
    listed = core.subscriptions(user)
    assert [(r.rule_id, r.mode) for r in listed.rows] == [("all", "mention"), ("rut-ath", "dm")]
    assert core.unsubscribe(user, "rut-ath").removed == 1
    assert core.unsubscribe(user, "rut-ath").action == "not_subscribed"
    assert core.unsubscribe(user, "all").removed == 1
    assert core.subscriptions(user).rows == ()


def test_subscriptions_are_personal(core: Commands, user: Actor, settings: Settings) -> None:
    core.subscribe(user, "rut-ath")
    other = make_actor(settings, "discord", "43")
    slack_same_id = make_actor(settings, "slack", "42")
    assert core.subscriptions(other).rows == ()
    assert core.subscriptions(slack_same_id).rows == ()


def test_subscribe_unknown_rule_suggests(core: Commands, user: Actor) -> None:
    with pytest.raises(CommandError, match="Did you mean iwm-ath"):
        core.subscribe(user, "iwm-atx")
    with pytest.raises(CommandError, match="mention"):
        core.subscribe(user, "iwm-ath", "sms")


def test_unsubscribe_from_a_rule_no_longer_in_the_rules_file(
    core: Commands, user: Actor, fresh_db: Database
) -> None:
    subs.subscribe(fresh_db, "discord", "42", "retired-rule", "dm", now=NOW)
    assert core.unsubscribe(user, "retired-rule").removed == 1


# /mute, /unmute


def test_admins_by_user_or_role(settings: Settings) -> None:
    assert make_actor(settings, "discord", "111").is_admin
    assert make_actor(settings, "discord", "5", role_ids=("999",)).is_admin
    assert not make_actor(settings, "discord", "5", role_ids=("998",)).is_admin
    assert make_actor(settings, "slack", "UADMIN").is_admin
    assert not make_actor(settings, "slack", "111").is_admin  # admin ids are per platform


def test_mute_and_unmute(core: Commands, admin: Actor, fresh_db: Database) -> None:
    reply = core.mute(admin, "iwm-ath", "4h")
    assert reply.action == "muted"
    assert reply.until == subs.iso(NOW + timedelta(hours=4))
    assert "2026-03-03 01:00 UTC" in reply.text
    assert subs.muted(fresh_db, "iwm-ath", NOW) is not None
    assert core.unmute(admin, "iwm-ath").action == "unmuted"
    assert core.unmute(admin, "iwm-ath").action == "not_muted"


def test_non_admins_cannot_mute(core: Commands, user: Actor, fresh_db: Database) -> None:
    with pytest.raises(CommandError, match="Only admins"):
        core.mute(user, "iwm-ath", "1d")
    with pytest.raises(CommandError, match="Only admins"):
        core.unmute(user, "iwm-ath")
    assert subs.active_mutes(fresh_db, NOW) == []


@pytest.mark.parametrize(("rule", "duration"), [("iwm-ath", "1y"), ("nope", "1d"), (None, "1d")])
def test_bad_mutes(core: Commands, admin: Actor, rule: str | None, duration: str) -> None:
    with pytest.raises(CommandError):
        core.mute(admin, rule, duration)


# Acknowledge


def test_first_acknowledgement_wins(core: Commands, user: Actor, settings: Settings) -> None:
    first = core.acknowledge(user, "rut-ath:2026-03-02:fired")
    other = core.acknowledge(make_actor(settings, "slack", "U9"), "rut-ath:2026-03-02:fired")
    assert first.first and not other.first
    assert other.user_id == "42" and "Already acknowledged by 42" in other.text


# /help


def test_help_lists_every_command_with_prefix(core: Commands) -> None:
    reply = core.help("/rot-")
    names = [c.name for c in reply.commands]
    assert "/rot-spread" in names and "/rot-mute" in names
    assert all(c.description for c in reply.commands)
    admin_only = [c.name for c in reply.commands if c.admin_only]
    assert admin_only == ["/rot-mute", "/rot-unmute", "/rot-rule"]


# Threads: adapters call the core through asyncio.to_thread


async def test_core_with_a_factory_works_from_worker_threads(
    db_path: Path, settings: Settings
) -> None:
    import asyncio

    db = open_db(db_path)
    upsert_bars(db, bars("AAA", AAA) + bars("BBB", BBB))
    db.close()
    core = Commands.for_path(settings, db_path, rules=RULES, clock=lambda: NOW)
    replies = await asyncio.gather(
        *(asyncio.to_thread(core.spread, "AAA", "BBB") for _ in range(8))
    )
    assert [r.spread_bps for r in replies] == [pytest.approx(500.0)] * 8


# /status


def test_status_delegates_to_the_health_model(core: Commands) -> None:
    reply = core.status()
    symbols = [s.symbol for s in reply.health.symbols]
    assert symbols == ["AAA", "BBB"]
    assert reply.ok is False  # no service has run in this test database
    assert any("not running" in p for p in reply.problems)
    assert reply.lines[0] == "status: degraded"
    assert reply.text.startswith("Status degraded: ")


# Renotify bookkeeping the service calls for each delivered event


def test_track_event_schedules_and_reversal_stops(fresh_db: Database, settings: Settings) -> None:
    from bot.delivery.alerting import track_event
    from signals.models import Event

    rule = parse_rule({"type": "new_high", "id": "x", "symbol": "AAA", "renotify_minutes": 30})
    quiet = parse_rule({"type": "new_high", "id": "q", "symbol": "AAA"})
    fired = Event("x", "fired", date(2026, 3, 2), "2026-03-02", "t", 1.0)
    scheduled = track_event(fresh_db, fired, rule, settings, now=NOW)
    assert scheduled is not None and scheduled.max_rounds == settings.renotify_rounds == 3
    assert track_event(fresh_db, fired, quiet, settings, now=NOW) is None  # off by default
    assert renotify.due_renotifications(fresh_db, NOW + timedelta(minutes=30))
    reversed_ = Event("x", "reversed", date(2026, 3, 5), "2026-03-02", "t", 1.0)
    assert track_event(fresh_db, reversed_, rule, settings, now=NOW) is None
    assert renotify.due_renotifications(fresh_db, NOW + timedelta(days=1)) == []


def test_symbols_without_usable_final_bars(fresh_db: Database, settings: Settings) -> None:
    upsert_bars(fresh_db, bars("AAA", {"2026-01-02": 1.0}, final=False))
    upsert_bars(fresh_db, bars("BBB", {"2026-01-02": 1.0}, final=False))
    upsert_bars(fresh_db, [PriceBar("VOL", date(2026, 1, 2), volume=5.0)])
    upsert_bars(fresh_db, bars("NEG", {"2026-01-02": -1.0}))
    core = Commands(settings, fresh_db, rules=RULES, clock=lambda: NOW)
    for a, b in [("AAA", "BBB"), ("VOL", "NEG"), ("AAA", "VOL")]:
        with pytest.raises(CommandError, match="No usable final adjusted closes"):
            core.spread(a, b)
