"""Returns over windows (ytd, 3m, 42d, since:DATE ...), as one value or as a series over history.

Total return uses `adj_close` (split- and dividend-adjusted), price return uses `close`.
A window's anchor is the session whose close the return starts from: `ytd` starts from the
last close of the previous year (likewise `qtd`, `mtd`), calendar offsets (`1m`, `3m`, `6m`,
`1y`) from the last session on or before the same day N months earlier, `Nd` from the session
N sessions back and `since:YYYY-MM-DD` from the last session on or before that day.

Every anchor is a date found from the calendar, never a count of a leg's rows, so both legs of
a spread start at the same session. `Nd` reads the exchange's sessions when the caller passes
them (`MarketData.sessions`): a leg missing a session inside the window (a discarded bar, a
feed's missing day) keeps its window, and a leg missing the anchor session itself starts from
its last close before it (a run of missing sessions beyond the tolerance is a hole, see
`signals.holes`). Without sessions (history before the calendar starts, a bare series), `Nd`
counts the leg's bars.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from signals.legs import DataError, load_leg
from signals.memo import Memo, per_series
from signals.models import LegReturn, MarketData, SpreadReport
from signals.windows import (  # noqa: F401 - parsing lives beside, pandas-free; named here too
    WINDOW_HELP,
    Basis,
    Window,
    WindowError,
    WindowKind,
    basis_column,
    parse_window,
)


def anchor_targets(index: pd.DatetimeIndex, window: Window) -> tuple[np.ndarray, str]:
    """Per date of `index`, the day the window's anchor is searched from and the search side.

    Side "left" means "last session strictly before the day", "right" "on or before".
    """
    if window.kind == "ytd":
        return index.to_period("Y").start_time.values, "left"
    if window.kind == "qtd":
        return index.to_period("Q").start_time.values, "left"
    if window.kind == "mtd":
        return index.to_period("M").start_time.values, "left"
    if window.kind == "months":
        return (index - pd.DateOffset(months=window.count)).values, "right"
    assert window.since is not None
    return np.full(len(index), np.datetime64(window.since, "ns")), "right"


def anchor_positions(
    index: pd.DatetimeIndex, window: Window, sessions: pd.DatetimeIndex | None = None
) -> np.ndarray:
    """Per date of `index`, the position of the anchor session, or -1 when history is short."""
    if window.kind == "sessions":
        positions = np.arange(len(index)) - window.count
        if sessions is not None and len(sessions):
            positions = _session_anchors(index, window.count, sessions, positions)
        return np.where(positions >= 0, positions, -1)
    targets, side = anchor_targets(index, window)
    positions = index.values.searchsorted(targets, side=side) - 1  # type: ignore[call-overload]
    return np.where(positions >= 0, positions, -1)


def _session_anchors(
    index: pd.DatetimeIndex, count: int, sessions: pd.DatetimeIndex, by_rows: np.ndarray
) -> np.ndarray:
    """The bar on or before the session `count` sessions before each date, by the calendar.

    Dates the calendar does not hold, or too near its start, keep `by_rows` (counted bars).
    """
    known = sessions.values
    days = index.values.astype(known.dtype)
    at = known.searchsorted(days)
    on_calendar = known[np.minimum(at, len(known) - 1)] == days
    target_at = at - count
    usable = on_calendar & (target_at >= 0)
    targets = known[np.maximum(target_at, 0)]
    anchors = days.searchsorted(targets, side="right") - 1
    return np.where(usable, anchors, by_rows)


def window_spans(
    values: pd.Series, window: Window, sessions: pd.DatetimeIndex | None = None
) -> pd.Series:
    """Per date of `values`, the sessions its window spans (bars after the anchor); 0 if none."""
    index = pd.DatetimeIndex(values.index)
    anchors = anchor_positions(index, window, sessions)
    spans = np.arange(len(values)) - anchors
    if sessions is not None and len(sessions) and len(index):
        # Sessions of the calendar, not the leg's bars: a missing bar does not shorten it.
        known, days = sessions.values, index.values.astype(sessions.values.dtype)
        ends, starts = known.searchsorted(days), known.searchsorted(days[np.maximum(anchors, 0)])
        on_calendar = known[np.minimum(ends, len(known) - 1)] == days
        spans = np.where(
            on_calendar & (days[np.maximum(anchors, 0)] >= known[0]), ends - starts, spans
        )
    return pd.Series(np.where(anchors >= 0, spans, 0), index=values.index)


def is_period_to_date(window: Window) -> bool:
    """True for ytd, qtd and mtd: windows that restart short at every period boundary."""
    return window.kind in ("ytd", "qtd", "mtd")


def return_series(
    values: pd.Series, window: Window, sessions: pd.DatetimeIndex | None = None
) -> pd.Series:
    """The window return (fraction) at every date of `values`; NaN where history is too short."""
    index = pd.DatetimeIndex(values.index)
    anchors = anchor_positions(index, window, sessions)
    data = values.to_numpy(dtype="float64")
    start = np.where(anchors >= 0, data[np.maximum(anchors, 0)], np.nan)
    if window.kind == "since":
        start = np.where(index.values >= np.datetime64(window.since, "ns"), start, np.nan)
    return pd.Series(data / start - 1.0, index=index, name=values.name)


def leg_return(
    values: pd.Series,
    window: Window,
    as_of: date | None = None,
    sessions: pd.DatetimeIndex | None = None,
) -> LegReturn:
    """The return of one leg over `window` ending at the last date on or before `as_of`."""
    name = str(values.name)
    if values.empty:
        raise DataError(f"{name}: no data")
    end_pos = _end_position(values, name, as_of)
    index = pd.DatetimeIndex(values.index[: end_pos + 1])
    anchor = int(anchor_positions(index, window, sessions)[-1])
    if window.since is not None and index[-1].date() < window.since:
        raise DataError(f"{name}: window {window.text} starts after {index[-1].date()}")
    if anchor < 0:
        first = values.index[0].date()
        raise DataError(f"{name}: history starts {first}, too short for window {window.text}")
    start, end = float(values.iloc[anchor]), float(values.iloc[end_pos])
    return LegReturn(
        name=name,
        start=index[anchor].date(),
        end=index[-1].date(),
        start_value=start,
        end_value=end,
        ret=end / start - 1.0,
    )


def _end_position(values: pd.Series, name: str, as_of: date | None) -> int:
    if as_of is None:
        return len(values) - 1
    position = int(values.index.searchsorted(pd.Timestamp(as_of), side="right")) - 1
    if position < 0:
        first = values.index[0].date()
        raise DataError(f"{name}: no data on or before {as_of} (history starts {first})")
    return position


def spread(
    market: MarketData,
    a: str,
    b: str,
    window: str | Window = "ytd",
    as_of: date | None = None,
    basis: Basis = "total",
) -> SpreadReport:
    """A's return over `window` minus B's, each leg with the start and end sessions it used.

    Raises DataError (unknown symbol, no data at `as_of`, history too short) and WindowError.
    """
    parsed = parse_window(window) if isinstance(window, str) else window
    column = basis_column(basis)
    legs = [load_leg(market, name, column) for name in (a, b)]
    unusable = [name for name, leg in zip((a, b), legs, strict=True) if leg.empty]
    if unusable:
        # Cached rows can all be unusable: provisional only, no such column, zero or negative.
        kind = "adjusted closes" if basis == "total" else "closes"
        raise DataError(f"No usable final {kind} for {' and '.join(unusable)}.")
    end = as_of or min(leg.index[-1].date() for leg in legs)
    a_leg, b_leg = (leg_return(leg, parsed, end, market.sessions) for leg in legs)
    return SpreadReport(a=a_leg, b=b_leg, window=parsed.text, basis=basis, as_of=end)


def spread_series(
    a: pd.Series,
    b: pd.Series,
    window: Window,
    memo: Memo | None = None,
    sessions: pd.DatetimeIndex | None = None,
) -> pd.DataFrame:
    """Per common date: each leg's window return, A minus B (fractions) and anchor dates.

    With a memo, each leg's returns and anchors are computed once for every pair reading it
    (a memo belongs to one market, so to one calendar: `sessions` is not part of its key).
    """
    data, index, _ = spread_arrays(a, b, window, memo, sessions)
    return pd.DataFrame(data, index=index)


def spread_arrays(
    a: pd.Series,
    b: pd.Series,
    window: Window,
    memo: Memo | None = None,
    sessions: pd.DatetimeIndex | None = None,
) -> tuple[dict[str, np.ndarray], pd.Index, tuple[np.ndarray, np.ndarray]]:
    """`spread_series`' columns as arrays, their dates (no DataFrame per pair), and where
    each leg has those dates."""
    a_returns, a_starts = _leg_window(memo, a, window, sessions)
    b_returns, b_starts = _leg_window(memo, b, window, sessions)
    # Legs are sorted without duplicate dates (`load_leg`): the common dates, and where each
    # leg has them, without aligning two Series.
    at_a, at_b = _common_dates(memo, a, b)  # the returns are on their legs' dates
    left, right = a_returns.to_numpy()[at_a], b_returns.to_numpy()[at_b]
    keep = ~(np.isnan(left) | np.isnan(right))
    at_a, at_b, left, right = at_a[keep], at_b[keep], left[keep], right[keep]
    index = a_returns.index[at_a]
    if index.name != b_returns.index.name:
        index = index.rename(None)  # as an inner join of differently named indexes gives
    data = {"a": left, "b": right, "spread": left - right}
    data["a_start"] = a_starts.to_numpy()[at_a]
    data["b_start"] = b_starts.to_numpy()[at_b]
    return data, index, (at_a, at_b)


def _common_dates(memo: Memo | None, a: pd.Series, b: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Where each leg has the dates both have, once per pair of legs (every window reads it)."""
    key = ("common dates", id(a), id(b))
    hit = None if memo is None else memo.get(key)
    if isinstance(hit, tuple) and hit[0] is a and hit[1] is b:
        return hit[2]  # type: ignore[no-any-return]
    _, at_a, at_b = np.intersect1d(
        a.index.to_numpy(), b.index.to_numpy(), True, return_indices=True
    )
    if memo is not None:
        memo[key] = (a, b, (at_a, at_b))  # the legs kept alive: their ids are not reused
    return at_a, at_b


def _leg_window(
    memo: Memo | None, values: pd.Series, window: Window, sessions: pd.DatetimeIndex | None
) -> tuple[pd.Series, ...]:
    """A leg's window returns and anchor dates (shared through the memo when there is one)."""
    return per_series(
        memo,
        values,
        ("returns", window),
        lambda: (
            return_series(values, window, sessions),
            anchor_dates(values, window, sessions),
        ),
    )


def anchor_dates(
    values: pd.Series, window: Window, sessions: pd.DatetimeIndex | None = None
) -> pd.Series:
    """Per date of `values`, the date of the window's anchor session (NaT when too short)."""
    index = pd.DatetimeIndex(values.index)
    positions = anchor_positions(index, window, sessions)
    starts = np.where(positions >= 0, index.values[np.maximum(positions, 0)], np.datetime64("NaT"))
    return pd.Series(starts, index=index)
