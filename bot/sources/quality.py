"""Keep the data-quality status of stored bars and points up to date (see signals.quality).

Every writer of prices or series (import, `prices update`, the service's refresh, a chat
command fetching a symbol) calls `review_prices` / `review_series` after storing: the symbols
written and their linked instruments are judged again (an import over their whole history, an
incremental refresh from just before what it fetched), so a status always follows from the
stored data: a suspect bar becomes confirmed or discarded once the next bar is stored. A person's
verdict (`prices accept` / `prices reject`) is never overridden. Callers report the changes:
the CLI as warning lines, the service through `log_changes`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bot.config import DEFAULT_LINKS
from signals import quality as q
from signals.models import PriceBar, SeriesPoint
from signals.session_shift import SHIFT_QUESTION, judge_session_shift
from signals.shapes import (
    carry_to_weekends,
    judge_bounds,
    judge_drift,
    judge_frozen,
    judge_twin,
    weekday_points,
)
from storage.db import Store
from storage.prices import load_for_review, load_prices, noted_bars, set_statuses
from storage.series import load_series, point_statuses, set_point_statuses

if TYPE_CHECKING:  # the model imports pydantic: a tenth of a CSV import, which needs none
    from bot.config import Settings

log = logging.getLogger(__name__)

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# History loaded before the first bar judged again: the typical move needs 60 sessions.
HISTORY_FOR_REVIEW = timedelta(days=200)
_RANK = {q.CONFIRMED: 1, q.SUSPECT: 2, q.DISCARDED: 3}
_PERSON = (q.ACCEPTED, q.REJECTED)
HELD_BACK = (q.SUSPECT, q.DISCARDED)
# Series that bound a range (upper, lower): a date with the upper below the lower is held.
BOUND_PAIRS = (("DFEDTARU", "DFEDTARL"),)
# A FRED rate and the same instrument quoted by Yahoo: the 3-month bill (constant maturity)
# and the 13-week bill's yield, the 10-year note and CBOE's 10-year yield (neither pair has a
# real point parted from the other in the shared data).
RATE_TWINS = (("DGS3MO", "^IRX"), ("DGS10", "^TNX"))
# The second source's notes (bot/sources/second_source.py): its reading follows a held bar's own
# note after the separator; a review keeps its verdicts while the bar's stored values stay.
SECOND_SOURCE_AGREES = "confirmed by the second source"
SECOND_SOURCE_READING = "; second source "
SECOND_SOURCE_DISAGREES = "% apart, outside its"
SECOND_SOURCE_HOLDS = ": held until they agree or a person accepts it"
# The note of a bar released when a person accepted the level its stretch began with
# (bot/sources/decisions.py); a review keeps it like the second source's verdicts.
ACCEPTED_LEVEL = "held with the level a person accepted on "


# The checks as shipped (the defaults of Settings), for callers without settings at hand.
DEFAULT_CONFIG = q.QualityConfig(links=q.link_groups(DEFAULT_LINKS))


@dataclass(frozen=True)
class StatusChange:
    """One bar or point whose status the review changed."""

    name: str
    date: date
    old: str
    new: str
    note: str


def quality_config(settings: Settings) -> q.QualityConfig:
    """The checks' thresholds and linked instruments as configured."""
    return q.QualityConfig(
        sigmas=settings.suspect_sigmas,
        floor_pct=settings.suspect_floor_pct,
        links=q.link_groups(settings.linked_symbols),
        rate_jump_bps=settings.rate_jump_bps,
        hold_series=settings.hold_series,
        exempt=settings.quality_exempt,
    )


def review_prices(
    db: Store,
    symbols: Iterable[str],
    config: q.QualityConfig,
    known: Mapping[str, pd.DataFrame] | None = None,
    since: date | None = None,
) -> list[StatusChange]:
    """Judge `symbols` and their linked instruments again; store and return what changed.

    `known` may hold frames (`frame_of_bars`) of symbols whose whole cache the caller has in
    memory (a first import), which spares reading them back from SQLite. With `since` (an
    incremental refresh) only bars from that date are judged again, on enough history before.
    """
    judged = _with_links(symbols, config)
    wanted = _with_links(judged, config)
    known = {name: frame for name, frame in (known or {}).items() if name in wanted}
    start = None if since is None else since - HISTORY_FOR_REVIEW
    frames = {**load_for_review(db, sorted(wanted - known.keys()), start), **known}
    names = sorted(judged & frames.keys())
    decided = kept_verdicts(db, names, start)
    changes: list[StatusChange] = []
    for symbol in names:
        changes.extend(_review_symbol(db, symbol, frames, config, since, decided.get(symbol, {})))
    return changes


def is_kept_verdict(status: str, note: str) -> bool:
    """True for a status the move checks do not undo: the second source's (confirmed, or held
    as it disagrees), or a bar confirmed with the level a person accepted."""
    if status == q.CONFIRMED:
        return note.startswith((SECOND_SOURCE_AGREES, ACCEPTED_LEVEL))
    return status == q.SUSPECT and SECOND_SOURCE_DISAGREES in note


def second_source_reading(note: str) -> str:
    """`; second source Stooq ^rut has ...` out of a held bar's note, or "" without one."""
    if note.startswith(SECOND_SOURCE_READING[2:]):
        note = f"; {note}"
    found = note[note.find(SECOND_SOURCE_READING) :] if SECOND_SOURCE_READING in note else ""
    return found.removesuffix(SECOND_SOURCE_HOLDS)


def kept_verdicts(
    db: Store, symbols: Sequence[str], start: date | None
) -> dict[str, dict[pd.Timestamp, str]]:
    """The verdicts on stored bars the move checks do not undo (`is_kept_verdict`): a bar whose
    values change is stored as ok again (`upsert_bars`) and checked at the next refresh."""
    return {
        symbol: {
            pd.Timestamp(day): status
            for day, (status, note) in notes.items()
            if is_kept_verdict(status, note)
        }
        for symbol, notes in noted_bars(db, symbols, start).items()
    }


def frame_of_bars(bars: Sequence[PriceBar]) -> pd.DataFrame:
    """Close, Adj Close and status (all ok: just stored) of bars, as `load_for_review` gives."""
    days = np.fromiter((bar.date.toordinal() for bar in bars), dtype=np.int64, count=len(bars))
    index = pd.DatetimeIndex((days - _EPOCH_ORDINAL).astype("datetime64[D]"), name="date")
    close = pd.Series([bar.close for bar in bars], index=index, dtype=np.float64)
    adj_close = pd.Series([bar.adj_close for bar in bars], index=index, dtype=np.float64)
    return frame_of_columns(close, adj_close)


def frame_of_columns(close: pd.Series, adj_close: pd.Series) -> pd.DataFrame:
    """`frame_of_bars` of bars already column-wise (float64 Series on the same dates)."""
    columns = {"close": close.to_numpy(), "adj_close": adj_close.to_numpy()}
    return pd.DataFrame(columns, index=close.index).assign(status=q.OK)


def series_of_points(points: Sequence[SeriesPoint]) -> pd.Series:
    """Dated values of points, as `load_series` gives them."""
    days = np.fromiter((p.date.toordinal() for p in points), dtype=np.int64, count=len(points))
    index = pd.DatetimeIndex((days - _EPOCH_ORDINAL).astype("datetime64[D]"), name="date")
    return pd.Series([p.value for p in points], index=index, dtype="float64")


def _with_links(symbols: Iterable[str], config: q.QualityConfig) -> set[str]:
    names = set(symbols)
    return names | {link for name in names for link in config.links.get(name, ())}


def _review_symbol(
    db: Store,
    symbol: str,
    frames: dict[str, pd.DataFrame],
    config: q.QualityConfig,
    since: date | None,
    decided: dict[pd.Timestamp, str],
) -> list[StatusChange]:
    frame = frames[symbol]
    decided = {day: status for day, status in decided.items() if day in frame.index}
    verdicts = {} if symbol in config.exempt else _verdicts(symbol, frames, config, decided)
    stored = frame["status"].to_numpy(dtype=object)
    fresh, notes = _fresh_statuses(symbol, frame, verdicts, decided)
    differs = fresh != stored
    if since is not None:  # older statuses were judged on their own history: leave them be,
        # but for a stretch dated a session off, seen only sessions after it began (held whole).
        shifted = np.array([SHIFT_QUESTION in note for note in notes], dtype=bool)
        differs = differs & ((frame.index >= pd.Timestamp(since)) | shifted)
    days = frame.index[differs].date
    marks = [
        (day, str(status), str(note))
        for day, status, note in zip(days, fresh[differs], notes[differs], strict=True)
    ]
    if marks:
        set_statuses(db, symbol, marks)
    olds = [str(old) for old in stored[differs]]
    return [
        StatusChange(symbol, day, old, status, note)
        for (day, status, note), old in zip(marks, olds, strict=True)
    ]


def _fresh_statuses(
    symbol: str,
    frame: pd.DataFrame,
    verdicts: dict[pd.Timestamp, q.Verdict],
    decided: dict[pd.Timestamp, str],
) -> tuple[np.ndarray, np.ndarray]:
    """Each date's status and note after this review: the checks' verdicts, then what a
    person decided, then the second source's kept verdicts (`decided`, on the frame's dates).

    Column-wise on numpy (a first import holds back thousands of bars): the frames' dates
    are unique (a primary key, or a file whose duplicate dates were refused)."""
    stored = frame["status"].to_numpy(dtype=object)
    fresh = np.full(len(frame), q.OK, dtype=object)
    notes = np.full(len(frame), "", dtype=object)
    if verdicts:
        at = frame.index.get_indexer(list(verdicts))
        if (at < 0).any():  # a verdict is always on one of the symbol's own dates
            raise KeyError(f"{symbol}: a verdict on a date it has no bar on")
        fresh[at] = [verdict.status for verdict in verdicts.values()]
        notes[at] = [verdict.note for verdict in verdicts.values()]
    person = np.isin(stored, _PERSON)
    fresh[person] = stored[person]
    if decided:
        fresh[frame.index.get_indexer(list(decided))] = list(decided.values())
    return fresh, notes


def _verdicts(
    symbol: str,
    frames: dict[str, pd.DataFrame],
    config: q.QualityConfig,
    decided: dict[pd.Timestamp, str],
) -> dict[pd.Timestamp, q.Verdict]:
    """The worst verdict per date over Close and Adj Close; a level the second source confirmed
    is taken like an accepted one (the moves after it are judged from it)."""
    frame = frames[symbol]
    person = frame["status"][frame["status"].isin(_PERSON)]
    keep = dict(zip(person.index, person.to_numpy(), strict=True))
    keep |= {day: status for day, status in decided.items() if status == q.CONFIRMED}
    merged: dict[pd.Timestamp, q.Verdict] = {}
    for column in ("close", "adj_close"):
        if symbol in q.RATE_SYMBOLS:
            found = q.judge_rates(frame[column], config)
        else:
            links = {n: frames[n][column] for n in config.links.get(symbol, ()) if n in frames}
            found = _price_verdicts(frame[column], links, config, keep)
        for day, verdict in found.items():
            if day not in merged or _RANK[verdict.status] > _RANK[merged[day].status]:
                merged[day] = verdict
    return merged


def _price_verdicts(
    values: pd.Series,
    links: dict[str, pd.Series],
    config: q.QualityConfig,
    keep: dict[pd.Timestamp, str],
) -> dict[pd.Timestamp, q.Verdict]:
    """Frozen runs, slow drifts and a stretch dated a session off first; the moves are then
    judged without their bars (the move after a frozen run or a ramp is the real one since it
    began, which links may share)."""
    shapes = judge_frozen(values)
    drift = judge_drift(values.drop(index=list(shapes)), links, config.floor_pct / 100.0)
    drift |= judge_session_shift(values, links)
    shapes |= {day: v for day, v in drift.items() if day not in keep}
    unjudged = {**keep, **{day: q.REJECTED for day in shapes if day not in keep}}
    return {**q.judge_prices(values, links, config, unjudged), **shapes}


def _changes(
    name: str, marks: list[tuple[date, str, str]], stored: pd.Series
) -> list[StatusChange]:
    return [
        StatusChange(name, day, str(stored.get(pd.Timestamp(day), q.OK)), status, note)
        for day, status, note in marks
    ]


def describe(change: StatusChange) -> str:
    """One line for a person: `IWM 2026-11-20: suspect (one-day move of ...)`."""
    return f"{change.name} {change.date}: {change.new} ({change.note})"


def log_changes(changes: Iterable[StatusChange]) -> None:
    """The service's record: a bar held back or discarded is a warning, the rest info."""
    for change in changes:
        level = logging.WARNING if change.new in HELD_BACK else logging.INFO
        log.log(level, "data quality: %s (was %s)", describe(change), change.old)


def review_series(
    db: Store,
    series_ids: Iterable[str],
    config: q.QualityConfig,
    known: Mapping[str, pd.Series] | None = None,
) -> list[StatusChange]:
    """Judge rate series again (P/E, P/B and exempt series are only bounded).

    `known` may hold the whole stored history of some series (`series_of_points`).
    """
    ids = [i for i in series_ids if not q.is_ratio_series(i) and i not in config.exempt]
    ids += [other for i in ids for pair in BOUND_PAIRS if i in pair for other in pair]
    ids = list(dict.fromkeys(ids))
    known = {i: values for i, values in (known or {}).items() if i in ids}
    missing = [i for i in ids if i not in known]
    values = {**(load_series(db, missing, usable_only=False) if missing else {}), **known}
    crossed = _crossed_bounds(values)
    parted = _parted_from_twins(db, values)
    changes: list[StatusChange] = []
    for series_id, series in values.items():
        extra = {**parted.get(series_id, {}), **crossed.get(series_id, {})}
        changes.extend(_review_one_series(db, series_id, series, config, extra))
    return changes


def _crossed_bounds(values: Mapping[str, pd.Series]) -> dict[str, dict[pd.Timestamp, q.Verdict]]:
    """Points of a target range whose upper bound is below its lower one, per series."""
    found: dict[str, dict[pd.Timestamp, q.Verdict]] = {}
    for upper, lower in BOUND_PAIRS:
        if upper in values and lower in values:
            found.update(judge_bounds(values[upper].rename(upper), values[lower].rename(lower)))
    return found


def _parted_from_twins(
    db: Store, values: Mapping[str, pd.Series]
) -> dict[str, dict[pd.Timestamp, q.Verdict]]:
    """Points of a rate that disagree with the same instrument stored as a price (DGS3MO, ^IRX).

    Rates have no linked instruments, but these are one bill from two sources: a value the
    other source does not share, even below the jump limit, is the rate's error.
    """
    found: dict[str, dict[pd.Timestamp, q.Verdict]] = {}
    for series_id, symbol in RATE_TWINS:
        if series_id not in values:
            continue
        twin = load_prices(db, [symbol]).get(symbol)
        if twin is not None and len(twin):
            closes = twin["close"].rename(symbol)
            found[series_id] = judge_twin(values[series_id].rename(series_id), closes)
    return found


def _review_one_series(
    db: Store,
    series_id: str,
    values: pd.Series,
    config: q.QualityConfig,
    extra: Mapping[pd.Timestamp, q.Verdict],
) -> list[StatusChange]:
    stored_marks = point_statuses(db, series_id)
    person = {day for day, status in stored_marks.items() if status in _PERSON}
    kept = values.drop(index=[pd.Timestamp(day) for day in person], errors="ignore")
    verdicts = {**_rate_verdicts(series_id, kept, config), **extra}
    verdicts = {day: v for day, v in verdicts.items() if day.date() not in person}
    fresh = {day.date(): verdict for day, verdict in verdicts.items()}
    marks = _series_marks(stored_marks, fresh, person)
    if marks:
        set_point_statuses(db, series_id, marks)
    stored = pd.Series({pd.Timestamp(d): s for d, s in stored_marks.items()}, dtype=object)
    return _changes(series_id, marks, stored)


def _rate_verdicts(
    series_id: str, values: pd.Series, config: q.QualityConfig
) -> dict[pd.Timestamp, q.Verdict]:
    """A held series (the Fed target) is judged on weekdays: a Saturday repeating Friday's
    point is no second source holding it; weekend points share their Friday's verdict."""
    if series_id not in config.hold_series:
        return q.judge_rates(values, config)
    verdicts = q.judge_rates(weekday_points(values), config, hold=True)
    return carry_to_weekends(values, verdicts)


def _series_marks(
    stored: dict[date, str], fresh: dict[date, q.Verdict], person: set[date]
) -> list[tuple[date, str, str]]:
    marks = [
        (day, v.status, v.note) for day, v in fresh.items() if stored.get(day, q.OK) != v.status
    ]
    cleared = [d for d in stored if d not in fresh and d not in person]
    return marks + [(day, q.OK, "") for day in cleared]


def notable(names: Sequence[str], changes: Sequence[StatusChange]) -> list[StatusChange]:
    """The changes that hold a bar of `names` back (suspect or discarded): worth a warning."""
    return [c for c in changes if c.new in HELD_BACK and c.name in names]
