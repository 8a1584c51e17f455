"""The prices cache: idempotent upserts, provisional bars, frames for the engine."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlite_utils import Database

from signals.models import PRICE_COLUMNS, PriceBar
from signals.statuses import ACCEPTED, CONFIRMED, DISCARDED, SUSPECT
from storage.prices import (
    count_rows,
    freshness,
    has_symbol,
    last_dates,
    last_final_date,
    load_price_columns,
    load_prices,
    noted_bars,
    set_statuses,
    tail_rows,
    upsert_bars,
)


def _bar(day: int, close: float, **extra: object) -> PriceBar:
    return PriceBar("IWM", date(2025, 1, day), close=close, adj_close=close, source="t", **extra)


def test_same_data_twice_changes_nothing(fresh_db: Database) -> None:
    bars = [_bar(2, 200.0), _bar(3, 201.5)]
    assert upsert_bars(fresh_db, bars) == 2
    stamp = tail_rows(fresh_db, "IWM", 1)[0]["fetched_at"]
    assert upsert_bars(fresh_db, bars, fetched_at="2099-01-01T00:00:00+00:00") == 0
    assert tail_rows(fresh_db, "IWM", 1)[0]["fetched_at"] == stamp
    assert count_rows(fresh_db) == 2


def test_revision_updates_only_that_row(fresh_db: Database) -> None:
    upsert_bars(fresh_db, [_bar(2, 200.0), _bar(3, 201.5)])
    assert upsert_bars(fresh_db, [_bar(2, 200.0), _bar(3, 202.0)]) == 1
    assert tail_rows(fresh_db, "IWM", 1)[0]["close"] == 202.0


def test_missing_value_keeps_the_stored_one(fresh_db: Database) -> None:
    upsert_bars(fresh_db, [PriceBar("IWM", date(2025, 1, 2), open=1.0, close=2.0, source="a")])
    upsert_bars(fresh_db, [PriceBar("IWM", date(2025, 1, 2), close=2.0, adj_close=1.9)])
    row = tail_rows(fresh_db, "IWM", 1)[0]
    assert (row["open"], row["close"], row["adj_close"]) == (1.0, 2.0, 1.9)


def test_provisional_bar_never_replaces_a_final_one(fresh_db: Database) -> None:
    upsert_bars(fresh_db, [_bar(2, 200.0)])
    assert upsert_bars(fresh_db, [_bar(2, 199.0, final=False)]) == 0
    assert tail_rows(fresh_db, "IWM", 1)[0]["close"] == 200.0


def test_final_bar_replaces_the_provisional_one(fresh_db: Database) -> None:
    upsert_bars(fresh_db, [_bar(2, 199.0, final=False)])
    assert last_dates(fresh_db) == {}
    assert upsert_bars(fresh_db, [_bar(2, 200.0)]) == 1
    assert last_dates(fresh_db) == {"IWM": date(2025, 1, 2)}


def test_frames_are_typed_and_sorted(fresh_db: Database) -> None:
    upsert_bars(fresh_db, [_bar(3, 201.0), _bar(2, 200.0, final=False)])
    frame = load_prices(fresh_db, ["IWM", "NOPE"])["IWM"]
    assert tuple(frame.columns) == PRICE_COLUMNS
    assert list(frame.index.day) == [2, 3]
    assert frame["open"].dtype == "float64" and frame["final"].tolist() == [False, True]
    assert list(load_prices(fresh_db, final_only=True)["IWM"].index.day) == [3]


def _mixed_history(db: Database) -> None:
    """Two symbols: gaps of whole columns, provisional bars, every status, unsorted writes."""
    iwm = [_bar(day, 200.0 + day, open=199.0 + day, volume=1e6 * day) for day in (9, 3, 6, 7)]
    iwm += [_bar(2, 201.0), _bar(10, 210.25, final=False)]
    spy = [PriceBar("SPY", date(2025, 1, day), adj_close=500.5 - day) for day in (2, 3, 6)]
    spy.append(PriceBar("SPY", date(2025, 1, 7), close=1e-300, high=1.7976931348623157e308))
    upsert_bars(db, iwm + spy)
    marks = [(SUSPECT, 3), (CONFIRMED, 6), (DISCARDED, 7), (ACCEPTED, 9)]
    set_statuses(db, "IWM", [(date(2025, 1, day), status, "why") for status, day in marks])


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"usable_only": False},
        {"final_only": True},
        {"start": date(2025, 1, 3), "end": date(2025, 1, 7)},
        {"start": date(2025, 2, 1)},
    ],
)
def test_named_symbols_get_the_frames_of_the_one_query_path(
    fresh_db: Database, filters: dict[str, object]
) -> None:
    # Named symbols are read column-wise, a query each; every symbol at once goes through one
    # query and a groupby: the frames must be equal to the bit, dtypes and index included.
    _mixed_history(fresh_db)
    named = load_prices(fresh_db, ["SPY", "IWM", "NOPE", "SPY"], **filters)  # type: ignore[arg-type]
    every = load_prices(fresh_db, **filters)  # type: ignore[arg-type]
    assert sorted(named) == sorted(every)
    for symbol, frame in every.items():
        pd.testing.assert_frame_equal(named[symbol], frame, check_exact=True)
        assert named[symbol].index.dtype == frame.index.dtype
        assert named[symbol].index.name == "date"
        assert list(named[symbol].dtypes) == list(frame.dtypes)


def test_some_columns_are_those_columns_of_the_whole_frames(fresh_db: Database) -> None:
    _mixed_history(fresh_db)
    wanted = {"IWM": {"adj_close", "open", "final"}, "SPY": ["high"], "NOPE": ["close"], "^X": []}
    some = load_price_columns(fresh_db, wanted)
    whole = load_prices(fresh_db, ["IWM", "SPY"])
    assert list(some) == ["IWM", "SPY"]
    pd.testing.assert_frame_equal(some["IWM"], whole["IWM"][["open", "adj_close", "final"]])
    pd.testing.assert_frame_equal(some["SPY"], whole["SPY"][["high", "final"]], check_exact=True)
    assert list(load_price_columns(fresh_db, {"SPY": []})["SPY"].columns) == ["final"]
    with pytest.raises(ValueError, match="not price columns: date, symbol"):
        load_price_columns(fresh_db, {"SPY": ["close", "symbol", "date"]})


def test_freshness_reports_last_final_date(fresh_db: Database) -> None:
    upsert_bars(fresh_db, [_bar(2, 200.0), _bar(3, 201.0, final=False)])
    (row,) = freshness(fresh_db)
    assert (row["last_date"], row["last_final_date"], row["rows"]) == (
        "2025-01-03",
        "2025-01-02",
        2,
    )


def test_last_final_date_skips_provisional_bars_and_unknown_symbols(fresh_db: Database) -> None:
    upsert_bars(fresh_db, [_bar(2, 200.0), _bar(3, 201.5, final=False)])
    assert last_final_date(fresh_db, "IWM") == date(2025, 1, 2)
    assert has_symbol(fresh_db, "IWM")
    assert last_final_date(fresh_db, "IWB") is None and not has_symbol(fresh_db, "IWB")


def test_noted_bars_reads_status_and_note_and_a_changed_value_clears_them(
    fresh_db: Database,
) -> None:
    upsert_bars(fresh_db, [_bar(2, 200.0), _bar(3, 201.5), _bar(6, 203.0)])
    set_statuses(fresh_db, "IWM", [(date(2025, 1, 3), "suspect", "second source X has 1")])
    set_statuses(fresh_db, "IWM", [(date(2025, 1, 6), "confirmed", "confirmed by the second")])
    assert noted_bars(fresh_db, ["IWM"], date(2025, 1, 4)) == {
        "IWM": {date(2025, 1, 6): ("confirmed", "confirmed by the second")}
    }
    upsert_bars(fresh_db, [_bar(3, 201.5), _bar(6, 204.0)])  # the same 3rd, a corrected 6th
    assert noted_bars(fresh_db, ["IWM", "IWB"]) == {
        "IWM": {date(2025, 1, 3): ("suspect", "second source X has 1")}
    }
    assert noted_bars(fresh_db, []) == {}
