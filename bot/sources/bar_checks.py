"""What no source may ever store: a bar off its exchange's calendar, in the future, or with a
value no market prints (NaN, infinite, zero or negative prices, absurd magnitudes).

`prices import` turns a problem into a line-numbered error (nothing imported); `prices
update` drops the bar and says so in one warning line per symbol (`screen_bars`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from bot import calendar as nyse
from signals.models import PriceBar
from signals.quality import RATE_SYMBOLS, value_problem

# Symbols published on days the NYSE is closed (CBOE computes ^VIX on some NYSE holidays):
# only weekends and future dates are refused for them. ROTATION_WEEKDAY_SYMBOLS overrides it.
WEEKDAY_SYMBOLS = ("^VIX",)
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_FIELDS = ("open", "high", "low", "close", "adj_close", "volume")
# Dropped bars a warning names one by one; beyond, it counts them (a line stays a line).
LISTED = 5


def today_in_new_york() -> date:
    """The current date on the NYSE's clock: no bar may be dated after it."""
    return nyse.new_york_date(datetime.now(UTC))


def date_problem(day: date, today: date, *, weekdays_only: bool = False) -> str | None:
    """Why `day` cannot carry a bar: after today, a weekend, or not an NYSE session."""
    if day > today:
        return f"{day} is in the future (today is {today})"
    if day.weekday() >= 5:
        return f"{day} is a {_DAY_NAMES[day.weekday()]}, not a trading day"
    if weekdays_only or day < nyse.CALENDAR_START:
        return None  # before 1990 the calendar is not built; weekdays are all we can check
    try:
        session = nyse.is_session(day)
    except nyse.CalendarRangeError:
        return None
    return None if session else f"{day} is not an NYSE session (market holiday)"


def calendar_problems(
    days: Collection[date], today: date, *, weekdays_only: bool = False
) -> dict[date, str]:
    """`date_problem` for many dates at once (a file's): set arithmetic, not a loop per date."""
    future = [day for day in days if day > today]
    if weekdays_only:
        odd = [day for day in days if day.weekday() >= 5]
    else:
        sessions = nyse.session_days()
        first, last = nyse.CALENDAR_START, max(sessions)
        off = set(days).difference(sessions)
        odd = [d for d in off if d.weekday() >= 5 or first <= d <= last]
    return {
        day: str(date_problem(day, today, weekdays_only=weekdays_only)) for day in {*future, *odd}
    }


def values_problem(symbol: str, values: tuple[float | None, ...]) -> str | None:
    """The first impossible value among (open, high, low, close, adj_close, volume)."""
    rate = symbol in RATE_SYMBOLS
    for column, value in zip(_FIELDS, values, strict=True):
        problem = value_problem(value, column, rate=rate)
        if problem is not None:
            return problem
    return None


def bar_problem(
    bar: PriceBar, today: date, weekday_symbols: Collection[str] = WEEKDAY_SYMBOLS
) -> str | None:
    """Why `bar` must never be stored, or None."""
    weekdays = bar.symbol in weekday_symbols
    problem = date_problem(bar.date, today, weekdays_only=weekdays)
    if problem is not None:
        return problem
    values = (bar.open, bar.high, bar.low, bar.close, bar.adj_close, bar.volume)
    return values_problem(bar.symbol, values)


@dataclass
class Screened:
    """Bars kept per symbol, and one line per symbol about the bars dropped."""

    bars: list[PriceBar]
    dropped: list[str] = field(default_factory=list)

    def warning(self, symbol: str) -> str | None:
        """One line naming every dropped bar, or None when none was dropped."""
        if not self.dropped:
            return None
        count = len(self.dropped)
        named = "; ".join(self.dropped[:LISTED])
        more = f"; and {count - LISTED:,} more" if count > LISTED else ""
        return f"{symbol}: dropped {count:,} bar{'s' * (count > 1)}: {named}{more}"


def screen_bars(
    bars: list[PriceBar], today: date, weekday_symbols: Collection[str] = WEEKDAY_SYMBOLS
) -> Screened:
    """Keep the bars that may be stored; describe the others with their date."""
    screened = Screened([])
    for bar in bars:
        problem = bar_problem(bar, today, weekday_symbols)
        if problem is None:
            screened.bars.append(bar)
        else:
            prefix = "" if problem.startswith(str(bar.date)) else f"{bar.date}: "
            screened.dropped.append(prefix + problem)
    return screened
