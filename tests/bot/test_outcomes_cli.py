"""Issue 23: `rotation-bot backtest --outcomes` (JSON, table, chart)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from signals.models import PriceBar
from storage.db import open_db
from storage.prices import upsert_bars
from tests.bot.test_signal_cli import DISABLE_DEFAULTS, invoke
from tests.bot.test_track_record_alert import DAYS, RULE, sawtooth

KEYS = {"horizon", "sessions", "count", "independent", "median", "positive", "best", "worst",
        "unit", "pending", "gaps", "base"}  # fmt: skip


@pytest.fixture
def x_db(db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rules = tmp_path / "rules.toml"
    rules.write_text(DISABLE_DEFAULTS + RULE, encoding="utf-8")
    monkeypatch.setenv("ROTATION_RULES", str(rules))
    db = open_db(db_path)
    bars = [PriceBar("X", d, close=c, adj_close=c) for d, c in zip(DAYS, sawtooth(9), strict=True)]
    upsert_bars(db, bars)
    db.close()
    return db_path


def test_json_carries_one_object_per_horizon(x_db: Path) -> None:
    result = invoke(x_db, "backtest", "--outcomes", "--json")
    assert result.exit_code == 0, result.output
    [rule] = json.loads(result.stdout)["rules"]
    one, three, six = rule["outcomes"]
    assert [o["horizon"] for o in (one, three, six)] == ["1M", "3M", "6M"]
    summary = {"count", "independent", "median", "positive", "best", "worst"}
    assert set(three) == KEYS and set(three["base"]) == summary
    # Records on rows 1, 50, ..., 400 of 0..449; 3M = 63 sessions passed after 8 of them.
    assert (three["count"], three["independent"], three["positive"], three["pending"]) == (
        8, 4, 0, 1
    )  # fmt: skip
    # Each fell from its record (92 on row 1, then 91 + 10c) to the next dip (90 + 10c).
    records = [92] + [91 + 10 * c for c in range(1, 8)]
    by_hand = sorted((90 + 10 * c) / top * 100 - 100 for c, top in enumerate(records))
    assert three["median"] == pytest.approx((by_hand[3] + by_hand[4]) / 2)
    assert three["worst"] == pytest.approx(by_hand[0]) and three["unit"] == "%"
    assert rule["track_record"]["measures"] == "X" and rule["track_record"]["fired"] == 9


def test_to_cuts_the_history_no_look_ahead(x_db: Path) -> None:
    result = invoke(x_db, "backtest", "--outcomes", "--json", "--to", DAYS[200].isoformat())
    [rule] = json.loads(result.stdout)["rules"]
    three = rule["outcomes"][1]
    assert (three["count"], three["pending"]) == (3, 2)  # rows 1, 50, 100; 150 and 200 too recent
    assert rule["track_record"]["until"] == DAYS[200].isoformat()


def test_table_and_chart(x_db: Path, tmp_path: Path) -> None:
    result = invoke(x_db, "backtest", "--outcomes", "--chart", str(tmp_path / "charts"))
    assert result.exit_code == 0, result.output
    assert "alert line: Past 8 firings since" in " ".join(result.stdout.split())
    assert (tmp_path / "charts" / "x-high.png").read_bytes().startswith(b"\x89PNG")
    refused = invoke(x_db, "backtest", "--chart", str(tmp_path))
    assert refused.exit_code == 2 and "add --outcomes" in refused.output


def test_horizons_are_configurable_and_bad_ones_refused_in_one_line(x_db: Path) -> None:
    result = invoke(x_db, "backtest", "--outcomes", "--json", "--horizons", "2W=10, 1Q=63")
    assert result.exit_code == 0, result.output
    [rule] = json.loads(result.stdout)["rules"]
    assert [(o["horizon"], o["sessions"]) for o in rule["outcomes"]] == [("2W", 10), ("1Q", 63)]
    assert rule["outcomes"][1]["count"] == 8  # the same 63 sessions as 3M
    for bad, said in (("3M", "is not LABEL=SESSIONS"), ("3M=0", "1 to 2520"),
                      ("3M=63,3M=64", "each label once"), ("a b=3", "is not LABEL")):  # fmt: skip
        refused = invoke(x_db, "backtest", "--outcomes", "--horizons", bad)
        assert refused.exit_code == 2 and said in refused.output, bad
        assert len(refused.output.strip().splitlines()) == 1 and "Traceback" not in refused.output
