"""Issue j1: the valuation rule's alert through `check --deliver` to both platforms' stand-ins
carries the series' readable title and its track record in %, keyed by the series id."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.outcomes import CONTEXT_WHY_NOT
from signals.models import SeriesPoint
from storage.db import open_db
from storage.outbox import list_outbox, load_alert
from storage.series import load_series, upsert_points
from tests.bot.test_signal_cli import DISABLE_DEFAULTS, invoke
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

RULE = "valuation-gap-widest-since-2008"
SID = "ff:pb_small_vs_large"
TITLE = "small-cap P/B / large-cap P/B at its lowest "
# The default rule as shipped: only the defaults' other rules are turned off.
OTHERS_OFF = DISABLE_DEFAULTS.replace(f'[[rules]]\nid = "{RULE}"\nenabled = false\n\n', "")
MONTHS = list(pd.date_range("2000-01-31", "2020-12-31", freq="ME").date)
RISING = 204  # months 2000-01 .. 2016-12: never a low since 2008
CYCLE = 6  # months: a new low each January and July from 2017, then a rebound that re-arms


def relative_pb() -> list[float]:
    """Rising gently to 2016; from 2017 a new low L each January and July, then 1.02 L,
    1.06 L and 1.10 L for the rest of the half year (5 % above the low re-arms the rule)."""
    values = [0.80 + 0.001 * i for i in range(RISING)]
    for cycle in range(len(MONTHS[RISING:]) // CYCLE):
        low = 0.70 - 0.02 * cycle
        values += [low, low * 1.02, low * 1.06] + [low * 1.10] * (CYCLE - 3)
    return values


def store_until(db_path: Path, last: date) -> None:
    db = open_db(db_path)
    points = [
        SeriesPoint(SID, day, value, "test")
        for day, value in zip(MONTHS, relative_pb(), strict=True)
        if day <= last
    ]
    upsert_points(db, points)
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
    assert OTHERS_OFF != DISABLE_DEFAULTS
    rules.write_text(OTHERS_OFF, encoding="utf-8")
    for name, value in {
        "ROTATION_RULES": str(rules),
        "DISCORD_BOT_TOKEN": fake_discord.token,
        "DISCORD_CHANNEL_IDS": "111222333",
        "DISCORD_API_BASE": fake_discord.api_base,
        "SLACK_BOT_TOKEN": fake_slack.token,
        "SLACK_CHANNEL": CHANNEL_ID,
        "SLACK_API_URL": fake_slack.api_url,
        "ROTATION_CATCHUP_ALERT_DAYS": "3650",
    }.items():
        monkeypatch.setenv(name, value)
    return db_path


def deliver_firing(db_path: Path, fired: date) -> None:
    """Prime on the data before `fired` (silently), then deliver the firing on `fired`."""
    store_until(db_path, max(day for day in MONTHS if day < fired))
    primed = invoke(db_path, "check")
    assert primed.exit_code == 1, primed.output  # months long past: STALE today, exit 1
    store_until(db_path, fired)
    result = invoke(db_path, "check", "--deliver")
    assert result.exit_code == 0, result.output


def posted_lines(fake_discord: FakeDiscord, fake_slack: FakeSlack) -> tuple[str, str, list]:
    """The Discord title and track record field, and the Slack context texts."""
    [posted] = fake_discord.messages
    found = [f["value"] for f in posted.embed["fields"] if f["name"] == "Track record"]
    [slack] = fake_slack.messages
    blocks = slack.payload["blocks"]
    texts = [e["text"] for b in blocks if b["type"] == "context" for e in b["elements"]]
    return posted.embed["title"], found[0] if found else "", [slack.payload["text"], *texts]


def test_the_record_line_reads_in_percent_under_a_readable_title(
    desks: Path, fake_discord: FakeDiscord, fake_slack: FakeSlack
) -> None:
    deliver_firing(desks, date(2020, 1, 31))  # the 7th low; the 6 earlier have 3 months
    # Each earlier low was followed 3 months on by 1.10 x the low: +10.0 %, all 6 positive.
    line = (
        "Past 6 firings since 2008: small-cap P/B / large-cap P/B over the next 3 months "
        "+10.0 % median, positive 6 of 6 (all sessions: "
    )
    title, field, slack = posted_lines(fake_discord, fake_slack)
    assert TITLE in title and "(January 2020 data)" in title
    assert field.startswith(line)
    assert any(t.startswith("*Track record* " + line) for t in slack)
    assert any(TITLE in t for t in slack)
    [row] = {r["dedupe_key"] for r in list_outbox(open_db(desks))}  # keyed by the rule id
    assert row == f"{RULE}:2020-01-31:fired"


def test_fewer_than_five_firings_post_no_line_and_keep_the_reason(
    desks: Path, fake_discord: FakeDiscord, fake_slack: FakeSlack
) -> None:
    deliver_firing(desks, date(2018, 7, 31))  # 3 earlier lows: no line
    title, field, slack = posted_lines(fake_discord, fake_slack)
    assert TITLE in title and field == ""
    assert not any("Track record" in t or "Past " in t for t in slack)
    event, _ = load_alert(open_db(desks), f"{RULE}:2018-07-31:fired")
    assert event.context[CONTEXT_WHY_NOT] == (  # the firing announced is too recent itself
        "only 3 past firings since 2008-02-29 with the next 3 months in the data (1 too recent); "
        "the alert shows a track record from 5"
    )


@pytest.fixture(scope="module")
def french_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with the shared 202510 file imported through the CLI."""
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "valuation" / "25_Portfolios_5x5_CSV_202510.zip"
    if not path.is_file():
        pytest.skip(f"the French library file {path.name} is not in {path.parent} (see its README)")
    db_path = tmp_path_factory.mktemp("french") / "rotation.db"
    result = invoke(db_path, "series", "import", str(path))
    assert result.exit_code == 0, result.output
    return db_path


def test_backtest_outcomes_on_the_shared_file_are_month_end_moves_in_percent(
    french_db: Path,
) -> None:
    result = invoke(french_db, "backtest", "--rule", RULE, "--outcomes", "--json")
    assert result.exit_code == 0, result.output
    (found,) = json.loads(result.stdout)["rules"]
    fired = [date.fromisoformat(e["date"]) for e in found["events"] if e["kind"] == "fired"]
    db = open_db(french_db)
    values = load_series(db)[SID]
    db.close()
    months = list(values.index.date)
    assert found["track_record"]["unit"] == "%"
    assert found["track_record"]["measures"] == "small-cap P/B / large-cap P/B"
    for outcome, ahead in zip(found["outcomes"], (1, 3, 6), strict=True):
        # By hand on the monthly rows: the month end `ahead` months after each firing.
        moves = [
            (values.iloc[months.index(day) + ahead] / values[pd.Timestamp(day)] - 1) * 100
            for day in fired
            if months.index(day) + ahead < len(months)
        ]
        assert outcome["unit"] == "%" and outcome["count"] == len(moves) == 5
        assert outcome["median"] == pytest.approx(float(np.median(moves)))
        assert (outcome["best"], outcome["worst"]) == pytest.approx((max(moves), min(moves)))
        assert outcome["positive"] == sum(m > 0 for m in moves)
    line = found["track_record"]["line"]
    assert line.startswith("Past 5 firings since 2008: small-cap P/B / large-cap P/B over the")
    assert "pts" not in line
