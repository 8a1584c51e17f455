"""The daily digest: leaderboard, key spreads, nearest rules, posted through the notifiers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlite_utils import Database

from bot import calendar
from bot.config import load_settings
from bot.delivery.digest import (
    LEADERBOARD,
    build_digest,
    digest_message,
    render_leaderboard,
    send_digest,
)
from signals.models import PriceBar
from storage.prices import upsert_bars

SESSION = date(2025, 3, 31)
NOW = datetime(2025, 3, 31, 22, 0, tzinfo=UTC)
# Daily growth per symbol: IWC strongest, RSP weakest; SPY flat.
GROWTH = {"IWC": 0.003, "IWM": 0.002, "IJR": 0.001, "OEF": 0.0005, "SPY": 0.0, "QQQ": -0.0005}


def seed(db: Database) -> None:
    sessions = calendar.sessions_between(date(2024, 12, 2), SESSION)
    for symbol, growth in GROWTH.items():
        bars = [
            PriceBar(symbol, day, close=100 * (1 + growth) ** i, adj_close=100 * (1 + growth) ** i)
            for i, day in enumerate(sessions)
        ]
        upsert_bars(db, bars)
    upsert_bars(db, [PriceBar("RSP", SESSION - timedelta(days=3), close=1.0, adj_close=1.0)])


def test_leaderboard_ranks_by_ytd_and_marks_short_history(fresh_db: Database) -> None:
    seed(fresh_db)
    digest = build_digest(fresh_db, load_settings(None), SESSION, NOW)

    assert [row.symbol for row in digest.rows] == ["IWC", "IWM", "IJR", "OEF", "SPY", "QQQ", "RSP"]
    assert sorted(row.symbol for row in digest.rows) == sorted(LEADERBOARD)
    spy = next(row for row in digest.rows if row.symbol == "SPY")
    assert spy.ytd == pytest.approx(0.0) and spy.one_month == pytest.approx(0.0)
    rsp = digest.rows[-1]
    assert (rsp.ytd, rsp.one_month) == (None, None)  # one bar: no return, shown as n/a
    iwc_oef = digest.spreads[0]
    assert iwc_oef[:2] == ("IWC", "OEF")
    iwc, oef = digest.rows[0], digest.rows[3]
    assert iwc_oef[2] == pytest.approx((iwc.ytd - oef.ytd) * 100)


def test_digest_message_has_the_board_the_spreads_and_a_chart(fresh_db: Database) -> None:
    seed(fresh_db)
    digest = build_digest(fresh_db, load_settings(None), SESSION, NOW)
    png = render_leaderboard(digest)
    message = digest_message(digest, png)

    assert png is not None and png.startswith(b"\x89PNG")
    assert message.key == "digest:2025-03-31"
    assert message.title.startswith("Daily rotation digest 2025-03-31: IWC leads YTD +")
    fields = dict(message.fields)
    assert "RSP  YTD     n/a" in fields["Leaderboard"]
    # Columns line up only in a fixed-width font: chat platforms need the fence for that.
    board = fields["Leaderboard"].splitlines()
    assert board[0] == board[-1] == "```" and len({len(line) for line in board[1:-1]}) == 1
    assert fields["Key spreads"].startswith("IWC-OEF: YTD +")


def test_send_digest_posts_to_the_console_by_default(
    fresh_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(fresh_db)
    summary = send_digest(fresh_db, load_settings(None), SESSION, NOW)
    assert summary == "digest posted to 1, failed: none"
    out = capsys.readouterr().out
    assert "Daily rotation digest 2025-03-31" in out
    assert "RSP  YTD     n/a" in out and "```" not in out  # a terminal is fixed-width already
