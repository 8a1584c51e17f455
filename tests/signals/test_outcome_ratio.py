"""Issue j1: a ratio series' track record in %, monthly values on the sessions' clock."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from signals.models import Event, MarketData
from signals.names import display_name
from signals.outcome_text import format_move, outcome_line, record_heading
from signals.outcomes import DEFAULT_HORIZONS, TrackRecord, forward_paths, track_record
from signals.rules import parse_rule
from tests.signals.builders import series

SID = "ff:pb_small_vs_large"
MONTH_ENDS = list(pd.date_range("2020-01-31", periods=18, freq="ME").date)
# Hand-made relative P/B; several month ends fall on a weekend (2020-02-29, 2020-05-31 ...).
VALUES = [
    0.500, 0.480, 0.492, 0.470, 0.460, 0.4554, 0.460, 0.450, 0.441,
    0.459, 0.440, 0.451, 0.462, 0.430, 0.4343, 0.4214, 0.420, 0.415,
]  # fmt: skip
FIRED_AT = [1, 4, 7, 10, 13, 16, 17]  # month indexes: each a new low
RULE = parse_rule(
    {"id": "gap", "type": "extreme_since", "series": SID, "extreme": "low", "since": "2020-03-01"}
)
WEEKDAYS = pd.bdate_range("2020-01-01", "2021-08-31", name="date")


def monthly(calendar: bool) -> MarketData:
    data = {SID: series(MONTH_ENDS, VALUES, SID)}
    return MarketData(series=data, sessions=WEEKDAYS if calendar else None)


def firings() -> list[Event]:
    days = [MONTH_ENDS[k] for k in FIRED_AT]
    return [
        Event("gap", "fired", d, d.isoformat(), "t", VALUES[k])
        for k, d in zip(FIRED_AT, days, strict=True)
    ]


def by_hand(months: int) -> list[tuple[date, float]]:
    """The relative change in % to the month end `months` later, on the monthly list."""
    found = [k for k in FIRED_AT if k + months < len(VALUES)]
    return [(MONTH_ENDS[k], (VALUES[k + months] / VALUES[k] - 1) * 100) for k in found]


def placed(day: date) -> date:
    """The first weekday on or after `day`: when a month-end value can first be known."""
    return WEEKDAYS[WEEKDAYS.searchsorted(pd.Timestamp(day))].date()


@pytest.mark.parametrize("calendar", [True, False])
def test_monthly_ratio_moves_are_month_to_month_in_percent(calendar: bool) -> None:
    record = track_record(RULE, monthly(calendar), firings())
    assert (record.tracked.kind, record.tracked.unit) == ("relative", "%")
    assert record.tracked.stepwise
    for outcome, months in zip(record.horizons, (1, 3, 6), strict=True):
        expected = by_hand(months)
        # 21/63/126 sessions of the calendar are 1/3/6 month ends, never 63 rows of months.
        assert [d for d, _ in outcome.moves] == [placed(d) for d, _ in expected]
        assert [v for _, v in outcome.moves] == pytest.approx([v for _, v in expected])
        assert outcome.pending == len(FIRED_AT) - len(expected)  # no look-ahead
        assert outcome.gaps == 0
    three = record.at("3M")
    assert three is not None
    # 0.46/0.48, 0.45/0.46, 0.44/0.45, 0.43/0.44, 0.42/0.43: the discount widened each time.
    assert three.firings.median == pytest.approx((0.43 / 0.44 - 1) * 100)
    assert (three.firings.count, three.firings.positive) == (5, 0)
    assert three.firings.worst == pytest.approx((0.46 / 0.48 - 1) * 100)
    # Windows from month end to month end touch, never overlap: 3M from months 1, 4, ... 13
    # are 5 independent; 6M from 1, 4, 7, 10 are 2 (1-7 and 7-13).
    assert three.firings.independent == 5
    six = record.at("6M")
    assert six is not None and (six.firings.count, six.firings.independent) == (4, 2)
    one = record.at("1M")
    assert one is not None and one.base.independent == one.base.count


def test_the_base_rate_starts_from_month_ends_only() -> None:
    record = track_record(RULE, monthly(True), firings())
    one = record.at("1M")
    assert one is not None
    start = next(k for k, d in enumerate(MONTH_ENDS) if d >= record.since)
    moves = [(VALUES[k + 1] / VALUES[k] - 1) * 100 for k in range(start, len(VALUES) - 1)]
    assert one.base.count == len(moves)  # not one per session (21 copies of each month)
    assert one.base.median == pytest.approx(float(np.median(moves)))
    assert one.base.positive == sum(m > 0 for m in moves)


def test_a_month_end_past_the_data_is_pending_not_read() -> None:
    # Cut after 2021-03-31: 2021-02-28's 1M window ends on a month end in the data, its 3M
    # one does not (no value of May is read, nor carried from March).
    data = monthly(True)
    cut = MarketData(series={SID: data.series[SID][:"2021-03-31"]}, sessions=WEEKDAYS)
    record = track_record(RULE, cut, firings()[:5], as_of=date(2021, 3, 31))
    one, three = record.at("1M"), record.at("3M")
    assert one is not None and three is not None
    assert one.moves[-1] == (date(2021, 3, 1), pytest.approx((0.4343 / 0.43 - 1) * 100))
    assert [d for d, _ in three.moves] == [placed(MONTH_ENDS[k]) for k in (1, 4, 7, 10)]
    assert three.pending == 1


def test_line_heading_and_paths_read_as_a_relative_change() -> None:
    record = track_record(RULE, monthly(True), firings())
    line = outcome_line(record)
    assert line == (
        "Past 5 firings since 2020: small-cap P/B / large-cap P/B over the next 3 months "
        f"-2.3 % median, positive 0 of 5 (all sessions: {_base(record)})"
    )
    assert "small-cap P/B / large-cap P/B relative change in %" in record_heading(record)
    paths = forward_paths(record, DEFAULT_HORIZONS[1].sessions)
    first = paths[placed(MONTH_ENDS[1])]
    # Each session reads its nearest month end: no hole between them, and the path ends on
    # the 3M move of the table.
    assert not first.isna().any() and first.iloc[0] == 0.0
    assert first.iloc[-1] == pytest.approx((0.460 / 0.480 - 1) * 100)  # as the 3M table


def _base(record: TrackRecord) -> str:
    outcome = record.at("3M")
    assert outcome is not None
    base = outcome.base
    assert base.median is not None and base.share_positive is not None
    return f"{base.median:+.1f} %, {base.share_positive * 100:.0f} %"


def test_price_symbols_keep_their_names_and_units() -> None:
    assert display_name("IWM") == "IWM"
    assert display_name("IWM / IWB") == "IWM / IWB"
    assert display_name(SID) == "small-cap P/B / large-cap P/B"
    assert display_name("pe:IWB - pe:IWM") == "IWB P/E - IWM P/E"


def test_a_move_that_rounds_to_zero_has_no_minus_sign() -> None:
    assert format_move(-0.02, "%") == "+0.0 %"
    assert format_move(-0.4, "bps") == "+0 bps"
    assert format_move(-0.06, "%") == "-0.1 %"
