"""Issue 19: every path that stores bars passes the same screen, with the same bad bars.

Real IWM history (May-June 2025) with three bars no source may store: a 1e+300 close, a
Sunday and a market holiday (Juneteenth). Through `prices import` (refused, line-numbered),
`prices update` into an empty cache, the full refetch after Yahoo re-bases the history (which
used to swap the whole history in unscreened) and the back-fill of a hole: not one of them is
stored, and each path says so in one line. A response whose stamps are shifted by a time
zone (midnight UTC read in New York: every date a day early, Mondays on Sundays) is refused
whole.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from storage.db import open_db
from storage.prices import count_rows, load_prices
from tests.bot.corpus_kit import add_row, set_cells
from tests.corruptions import chart_from_csv, cut_sessions, keep_between
from tests.fakes.yahoo import FakeYahoo, start_fake_yahoo

if not any(group.name == "prices" for group in app.registered_groups):
    _register_commands()

SPAN = (date(2025, 5, 1), date(2025, 6, 30))
BAD_DAYS = ("2025-06-10", "2025-06-15", "2025-06-19")  # 1e+300, a Sunday, Juneteenth


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    for fake in start_fake_yahoo(monkeypatch):
        monkeypatch.setenv("ROTATION_YAHOO_URL", fake.base_url)
        monkeypatch.setenv("ROTATION_FETCH_RETRIES", "0")
        yield fake


def invoke(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), "prices", *args])


def iwm_copy(shared_data: Path, root: Path, *, bad: bool) -> Path:
    """`root/prices/IWM.csv`: the real rows of SPAN, with the three bad bars when `bad`."""
    (root / "prices").mkdir(parents=True)
    shutil.copy(shared_data / "prices" / "IWM.csv", root / "prices" / "IWM.csv")
    keep_between(root / "prices" / "IWM.csv", *SPAN)
    if bad:
        set_cells(root, "IWM", BAD_DAYS[0], ("Close", "Adj Close"), "1e300")
        add_row(root, "IWM", BAD_DAYS[1], "2025-06-13")
        add_row(root, "IWM", BAD_DAYS[2], "2025-06-18")
    return root / "prices"


def bad_chart(shared_data: Path, tmp_path: Path, *, rebase: float = 1.0) -> dict[str, Any]:
    """The bad copy as Yahoo serves it, every Adj Close times `rebase` (a new basis)."""
    folder = iwm_copy(shared_data, tmp_path / "served", bad=True)
    body = chart_from_csv(folder / "IWM.csv", "IWM", *SPAN)
    adjusted = body["chart"]["result"][0]["indicators"]["adjclose"][0]
    adjusted["adjclose"] = [round(v * rebase, 4) for v in adjusted["adjclose"]]
    return body


def stored(db_path: Path) -> tuple[int, float, list[str]]:
    """Rows, the highest close, and the stored dates among the bad ones."""
    db = open_db(db_path)
    frame = load_prices(db, ["IWM"], usable_only=False)["IWM"]
    rows = count_rows(db, "IWM")
    db.close()
    days = [str(d.date()) for d in frame.index]
    return rows, float(frame["close"].max()), [d for d in BAD_DAYS if d in days]


@pytest.fixture
def clean_rows(shared_data: Path, tmp_path: Path) -> int:
    folder = iwm_copy(shared_data, tmp_path / "clean", bad=False)
    return sum(1 for _ in (folder / "IWM.csv").open()) - 1


def imported(shared_data: Path, tmp_path: Path, hole: bool = False) -> Path:
    folder = iwm_copy(shared_data, tmp_path / "cache", bad=False)
    if hole:
        cut_sessions(folder / "IWM.csv", date(2025, 6, 2), date(2025, 6, 20))
    db_path = tmp_path / "rotation.db"
    assert invoke(db_path, "import", str(folder)).exit_code == 0
    return db_path


def update(db_path: Path) -> tuple[Result, dict[str, Any]]:
    result = invoke(db_path, "update", "IWM", "--json")
    return result, json.loads(result.stdout)["symbols"][0]


def test_import_refuses_the_file_with_a_line_number(shared_data: Path, tmp_path: Path) -> None:
    folder = iwm_copy(shared_data, tmp_path / "bad", bad=True)
    result = invoke(tmp_path / "rotation.db", "import", str(folder))
    assert result.exit_code == 1 and ", line " in result.stderr
    assert "nothing imported" in result.stderr


def test_update_into_an_empty_cache_drops_them(
    fake: FakeYahoo, shared_data: Path, tmp_path: Path, clean_rows: int
) -> None:
    fake.add_chart(bad_chart(shared_data, tmp_path))
    db_path = tmp_path / "rotation.db"
    result, item = update(db_path)
    assert result.exit_code == 0, result.output
    assert any("IWM: dropped 3 bars" in line for line in item["warnings"])
    rows, highest, bad = stored(db_path)
    # The 1e+300 bar took the real 2025-06-10 bar's place: one session short.
    assert (rows, bad) == (clean_rows - 1, []) and highest < 1e4


def test_the_refetch_after_a_rebase_drops_them(
    fake: FakeYahoo, shared_data: Path, tmp_path: Path, clean_rows: int
) -> None:
    db_path = imported(shared_data, tmp_path)
    fake.add_chart(bad_chart(shared_data, tmp_path, rebase=0.99))
    result, item = update(db_path)
    assert result.exit_code == 0, result.output
    assert item["rebased"], item
    assert any("IWM: dropped 3 bars" in line for line in item["warnings"])
    rows, highest, bad = stored(db_path)
    # No 1e+300 swapped in; the cached real 2025-06-10 bar stays (on the old basis).
    assert (rows, bad) == (clean_rows, [BAD_DAYS[0]]) and highest < 1e4


def test_the_back_fill_of_a_hole_drops_them(
    fake: FakeYahoo, shared_data: Path, tmp_path: Path, clean_rows: int
) -> None:
    db_path = imported(shared_data, tmp_path, hole=True)
    fake.add_chart(bad_chart(shared_data, tmp_path))
    result, item = update(db_path)
    assert result.exit_code == 0, result.output
    assert item["holes"] and any("IWM: dropped 3 bars" in w for w in item["warnings"])
    assert stored(db_path)[0::2] == (clean_rows - 1, [])  # 2025-06-10 is in the hole


def test_a_rebase_served_with_midnight_utc_stamps_is_refused_whole(
    fake: FakeYahoo, shared_data: Path, tmp_path: Path
) -> None:
    db_path = imported(shared_data, tmp_path)
    before = stored(db_path)
    body = bad_chart(shared_data, tmp_path, rebase=0.99)
    result_body = body["chart"]["result"][0]
    days = [datetime.fromtimestamp(t, UTC).date() for t in result_body["timestamp"]]
    result_body["timestamp"] = [
        int(datetime.combine(d, time(0), tzinfo=UTC).timestamp()) for d in days
    ]
    fake.add_chart(body)
    result, item = update(db_path)
    assert result.exit_code == 1
    assert "dates look shifted by a time zone" in item["error"], item
    assert stored(db_path) == before  # not one Sunday, not one close moved a day


# A bar every path may store but no rule may read: IWM x10 for one session (the next bar
# undoes it). Each path stores it and holds it the same way.
TICK = "2025-06-11"


def tick_copy(shared_data: Path, root: Path, hole: bool = False) -> Path:
    folder = iwm_copy(shared_data, root, bad=False)
    set_cells(root, "IWM", TICK, ("Close", "Adj Close"), lambda close: round(close * 10, 2))
    if hole:
        cut_sessions(folder / "IWM.csv", date(2025, 6, 2), date(2025, 6, 20))
    return folder


def tick_status(db_path: Path) -> tuple[str, str]:
    shown = json.loads(invoke(db_path, "show", "IWM", "--tail", "60", "--json").stdout)
    [row] = [row for row in shown["rows"] if row["date"] == TICK]
    return row["status"], row["quality_note"]


@pytest.mark.parametrize("path", ["import", "update", "rebase refetch", "back-fill"])
def test_every_path_holds_the_same_bad_tick_the_same_way(
    fake: FakeYahoo, shared_data: Path, tmp_path: Path, path: str
) -> None:
    db_path = tmp_path / "rotation.db"
    served = chart_from_csv(tick_copy(shared_data, tmp_path / "served") / "IWM.csv", "IWM", *SPAN)
    if path == "import":
        result = invoke(db_path, "import", str(tick_copy(shared_data, tmp_path / "file")))
    else:
        if path != "update":  # a clean cache (with a hole for the back-fill) to refresh
            db_path = imported(shared_data, tmp_path, hole=path == "back-fill")
        if path == "rebase refetch":
            adjusted = served["chart"]["result"][0]["indicators"]["adjclose"][0]
            adjusted["adjclose"] = [round(v * 0.99, 4) for v in adjusted["adjclose"]]
        fake.add_chart(served)
        result, item = update(db_path)
        assert item["rebased" if path == "rebase refetch" else "symbol"], item
    assert result.exit_code == 0, result.output
    status, note = tick_status(db_path)
    # The same verdict and words on every path (IWM rose 0.4 % on the real day).
    assert (status, note) == ("discarded", "one-day move of +895.9 % reverted by the next session")


def test_an_answer_holding_another_symbols_prices_is_refused_whole(
    fake: FakeYahoo, shared_data: Path, tmp_path: Path
) -> None:
    """Item 4, a response: IWB's prices served as IWM's part from every cached close, which
    the re-base check took for a new basis and swapped in; the same identity test as a file."""
    db_path = imported(shared_data, tmp_path)
    before = stored(db_path)
    fake.add_chart(chart_from_csv(shared_data / "prices" / "IWB.csv", "IWM", *SPAN))
    result, item = update(db_path)
    assert result.exit_code == 1
    # No stored symbol has IWB's prices here: whose they are cannot be named.
    said = "refused Yahoo's answer for IWM, which looks like another symbol's prices: 41 of 41 "
    assert item["error"].startswith(said + "closes differ from the stored ones"), item
    what_to_do = "; nothing stored: check which symbol Yahoo was sent for IWM"
    assert item["error"].endswith(what_to_do) and "\n" not in item["error"]
    assert stored(db_path) == before
