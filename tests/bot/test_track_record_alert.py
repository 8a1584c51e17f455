"""Issue 23: a firing's alert carries its rule's track record, through both platforms."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.calendar import sessions_between
from bot.outcomes import CONTEXT_LINE, CONTEXT_WHY_NOT, TrackRecords, with_track_records
from signals.evaluate import backtest_rule
from signals.models import MarketData, PriceBar
from signals.rules import parse_rule
from storage.db import open_db
from storage.outbox import list_outbox
from storage.prices import upsert_bars
from tests.bot.test_signal_cli import DISABLE_DEFAULTS, invoke
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack
from tests.signals.builders import frame

CHANNEL = "111222333"
RULE = '[[rules]]\nid = "x-high"\ntype = "new_high"\nsymbol = "X"\nmin_history = 2\n'
CYCLE = 50  # sessions: 10 rising to a new record, then 40 below it


def sawtooth(cycles: int) -> list[float]:
    """A new record once per cycle: X fires once a cycle, then re-arms on the dip."""
    closes: list[float] = []
    for cycle in range(cycles):
        top = 100.0 + 10 * cycle
        closes += [top - 9 + i for i in range(10)] + [top - 20.0] * (CYCLE - 10)
    return closes


DAYS = sessions_between(date(2023, 1, 3), date(2025, 1, 1))[: CYCLE * 9]  # NYSE sessions


def store(db_path: Path, closes: list[float], start: int = 0) -> None:
    db = open_db(db_path)
    days = DAYS[start : start + len(closes)]
    bars = [
        PriceBar("X", d, close=c, adj_close=c, source="t")
        for d, c in zip(days, closes, strict=True)
    ]
    upsert_bars(db, bars)
    db.close()


@pytest.fixture
def desks(
    db_path: Path,
    tmp_path: Path,
    fake_discord: FakeDiscord,
    fake_slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    rules = tmp_path / "rules.toml"
    rules.write_text(DISABLE_DEFAULTS + RULE, encoding="utf-8")
    for name, value in {
        "ROTATION_RULES": str(rules),
        "DISCORD_BOT_TOKEN": fake_discord.token,
        "DISCORD_CHANNEL_IDS": CHANNEL,
        "DISCORD_API_BASE": fake_discord.api_base,
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_CHANNEL": CHANNEL_ID,
        "SLACK_API_URL": fake_slack.api_url,
        "ROTATION_CATCHUP_ALERT_DAYS": "3650",
    }.items():
        monkeypatch.setenv(name, value)
    return db_path


def test_the_alert_line_reaches_discord_and_slack(
    desks: Path, fake_discord: FakeDiscord, fake_slack: FakeSlack
) -> None:
    closes = sawtooth(9)
    store(desks, closes[:400])
    primed = invoke(desks, "check")
    # Primes silently; the hand-made bars end in the past, so they are STALE today: exit 1.
    assert primed.exit_code == 1, primed.output
    store(desks, closes[400:], start=400)  # the 9th record, on row 400
    result = invoke(desks, "check", "--deliver")
    assert result.exit_code == 0, result.output
    # X fired on rows 1, 50, ..., 400. By the firing on row 400, 3 months (63 sessions) have
    # passed after rows 1..300 only: 7 firings, independent from rows 1, 100, 200, 300. Each
    # moved from a record (91 + 10c) to the next cycle's dip (90 + 10c); the median is
    # c = 3: 120 / 121 - 1 = -0.8 %.
    line = (
        "Past 7 firings since 2023 (4 independent): X over the next 3 months -0.8 % median, "
        "positive 0 of 7 (all sessions: "
    )
    [posted] = fake_discord.messages
    [field] = [f for f in posted.embed["fields"] if f["name"] == "Track record"]
    assert field["value"].startswith(line) and not field["inline"]
    [slack] = fake_slack.messages
    blocks = slack.payload["blocks"]
    texts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    assert any(t.startswith("*Track record* " + line) for t in texts)
    assert {row["status"] for row in list_outbox(open_db(desks))} == {"delivered"}


def test_fewer_than_five_firings_say_why_instead_and_reversals_carry_nothing() -> None:
    closes = sawtooth(3)
    days = DAYS[: len(closes)]
    market = MarketData(prices={"X": frame(days, closes)})
    rule = parse_rule({"id": "x", "type": "new_high", "symbol": "X", "min_history": 2,
                       "hysteresis": 0, "emit_reversed": True})  # fmt: skip
    events = backtest_rule(rule, market)
    cache = TrackRecords()
    marked = with_track_records(events, [rule], market, version=1, cache=cache)
    fired = [e for e in marked if e.kind == "fired"]
    assert fired and all(CONTEXT_LINE not in e.context for e in marked)
    assert "only 1 past firing since 2023-01-04" in fired[-1].context[CONTEXT_WHY_NOT]
    reversed_ = [e for e in marked if e.kind == "reversed"]
    assert reversed_ and all(CONTEXT_WHY_NOT not in e.context for e in reversed_)


def test_records_are_cached_per_data_version() -> None:
    closes = sawtooth(3)
    market = MarketData(prices={"X": frame(DAYS[: len(closes)], closes)})
    rule = parse_rule({"id": "x", "type": "new_high", "symbol": "X", "min_history": 2})
    cache = TrackRecords()
    first = cache.record(rule, market, version=1)
    assert first is not None and cache.record(rule, market, version=1) is first
    assert cache.record(rule, market, version=2) is not first  # new data: computed again
    assert cache.record(rule, market, version=2, as_of=date(2023, 2, 1)) is not first
