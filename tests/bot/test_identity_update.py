"""A Yahoo answer holding another symbol's prices is refused like such a file (issue 19).

`prices update` into an empty cache, through the Yahoo stand-in (the real yfinance): IWM's
answer carries IWB's real bars. Its moves follow IWB, not ^RUT or IWC (its linked
instruments): one error line, nothing stored for IWM, the others stored. With IWM's own bars
it is stored; a later answer of IWB's bars under IWM's name (refetched whole as a re-base) is
refused against the stored closes. Both refusals are one line of one form, and the refetch's
line is the one `refuse_strangers` gives the same answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from bot.sources.identity import refuse_strangers
from bot.sources.quality import DEFAULT_CONFIG
from bot.sources.yahoo import YahooSource
from storage.db import open_db
from tests.corruptions import chart_from_csv
from tests.fakes.yahoo import FakeYahoo, start_fake_yahoo

START, END = date(2023, 1, 3), date(2024, 6, 28)
SYMBOLS = ("IWM", "IWB", "IWC", "^RUT")
# Every refusal of an answer, on every path: the symbol, the source, whose prices it looks
# like, why (the judgement's words), what to do.
HEAD = "refused Yahoo's answer for IWM, which looks like IWB's prices: "
TAIL = "; nothing stored: check which symbol Yahoo was sent for IWM"


@pytest.fixture
def yahoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    for fake in start_fake_yahoo(monkeypatch):
        monkeypatch.setenv("ROTATION_YAHOO_URL", fake.base_url)
        monkeypatch.setenv("ROTATION_FETCH_RETRIES", "0")
        monkeypatch.setenv("ROTATION_HISTORY_START", START.isoformat())
        yield fake


def serve(fake: FakeYahoo, shared: Path, iwm_from: str, end: date = END) -> None:
    for symbol in SYMBOLS:
        source = iwm_from if symbol == "IWM" else symbol
        fake.add_chart(chart_from_csv(shared / "prices" / f"{source}.csv", symbol, START, end))


def run(db_path: Path, *args: str) -> Result:
    _register_commands()
    return CliRunner().invoke(app, ["--db", str(db_path), *args])


def stored(db_path: Path, symbol: str) -> int:
    """Rows stored for `symbol` (`prices show` fails, naming it, when there are none)."""
    shown = run(db_path, "prices", "show", symbol, "--json")
    return json.loads(shown.stdout)["rows_stored"] if shown.exit_code == 0 else 0


def test_an_answer_of_another_symbol_is_refused_into_an_empty_cache(
    yahoo: FakeYahoo, shared_data: Path, tmp_path: Path
) -> None:
    serve(yahoo, shared_data, iwm_from="IWB")
    result = run(tmp_path / "mixed.db", "prices", "update", *SYMBOLS)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "IWM" in errors[0], result.stderr
    assert errors[0].startswith(f"error: IWM: {HEAD}its daily moves follow IWB"), errors
    assert errors[0].endswith(TAIL)
    assert stored(tmp_path / "mixed.db", "IWM") == 0
    assert stored(tmp_path / "mixed.db", "IWB") > 300


def test_its_own_answer_is_stored_and_a_later_mix_up_refused_against_it(
    yahoo: FakeYahoo, shared_data: Path, tmp_path: Path
) -> None:
    db_path = tmp_path / "own.db"
    serve(yahoo, shared_data, iwm_from="IWM", end=date(2024, 3, 28))
    assert run(db_path, "prices", "update", *SYMBOLS).exit_code == 0
    rows = stored(db_path, "IWM")
    assert rows > 300
    # IWB's bars under IWM's name: the overlap's adjusted closes differ (a re-base to Yahoo),
    # so the whole history is fetched again, and it is not the stored IWM's.
    serve(yahoo, shared_data, iwm_from="IWB")
    result = run(db_path, "prices", "update", *SYMBOLS)
    assert result.exit_code == 1, result.output
    assert f"error: IWM: {HEAD}311 of 311 closes differ from the stored" in result.stderr
    assert result.stderr.rstrip().endswith(TAIL)
    assert stored(db_path, "IWM") == rows


def test_the_refetch_and_a_plain_answer_are_refused_with_the_same_line(
    yahoo: FakeYahoo, shared_data: Path, tmp_path: Path
) -> None:
    """IWB's bars as IWM's, IWM stored: `prices update` (a re-base, so the whole history is
    fetched again) prints the line `refuse_strangers` gives the same answer fetched alone."""
    db_path, end = tmp_path / "paths.db", date(2023, 6, 30)
    serve(yahoo, shared_data, iwm_from="IWM", end=date(2023, 3, 31))
    assert run(db_path, "prices", "update", *SYMBOLS).exit_code == 0
    serve(yahoo, shared_data, iwm_from="IWB", end=end)
    result = run(db_path, "prices", "update", *SYMBOLS)
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: IWM: {HEAD}") and line.endswith(TAIL), line

    answer = YahooSource(base_url=yahoo.base_url, retries=0).fetch({"IWM": START})
    db = open_db(db_path)
    try:
        refuse_strangers(db, answer, DEFAULT_CONFIG.links)
    finally:
        db.close()
    assert "IWM" not in answer.bars
    assert f"error: IWM: {answer.failures['IWM']}" == line
