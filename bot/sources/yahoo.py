"""Yahoo Finance through yfinance: one chart request per symbol and attempt, retried and checked.

yfinance swallows per-ticker failures (it only logs them), so each symbol's frame is checked
here: no usable bar is a failure with a reason. Why a symbol came back empty is read from
`YahooSession`, which records the outcome of the last chart request per symbol (HTTP status or
network error); 429, 5xx, timeouts and network errors are retried with exponential backoff and
jitter, the rest reported at once.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
import yfinance as yf
from curl_cffi.requests import Session
from curl_cffi.requests.exceptions import RequestException
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from yfinance.data import YfData
from yfinance.exceptions import YFRateLimitError

from bot import calendar as nyse
from bot.config import Settings
from bot.sources.base import FetchInterrupted, FetchResult, SourceError
from bot.sources.yahoo_checks import (
    explain_empty,
    flag_stale,
    hold_partial_session,
    is_provisional,
    last_opened_session,
    resolve_repeats,
    snapshot_time,
)
from bot.sources.yahoo_http import YahooSession, describe_network_error
from signals.models import PriceBar, SeriesPoint
from storage.stamps import utc_now

log = logging.getLogger(__name__)

_COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
_PRICES = ("open", "high", "low", "close", "adj_close")


def log_retry(state: RetryCallState) -> str:
    """One DEBUG line before each backoff sleep: which symbols, why, how long; returned too,
    for a spinner to show (a command waiting on retries must not look hung).

    DEBUG: a retry that succeeds is not news, and one that fails ends in the caller's summary.
    """
    error = state.outcome.exception() if state.outcome else None
    reasons = error.reasons if isinstance(error, _Transient) else {}
    wait = state.next_action.sleep if state.next_action else 0.0
    first = next(iter(reasons.values()), "")
    log.debug("Yahoo: retrying %s in %.1f s (%s)", ", ".join(reasons), wait, first)
    return f"retry {state.attempt_number} in {wait:.0f} s: {first}"


def never() -> bool:
    """The default `should_stop`: a one-shot command is stopped by its signal, not asked."""
    return False


class _Transient(Exception):
    """Some symbols failed in a way worth retrying (rate limit, 5xx, network)."""

    def __init__(self, reasons: dict[str, str]) -> None:
        super().__init__("; ".join(f"{s}: {r}" for s, r in reasons.items()))
        self.reasons = reasons


@dataclass
class YahooSource:
    """`PriceSource` for Yahoo Finance daily bars, stored as Yahoo serves them.

    Yahoo's Close is split-adjusted (not dividend-adjusted); Adj Close is split- and
    dividend-adjusted. `session` should be a `YahooSession` (it tells failures apart).
    """

    session: Session | None = None
    base_url: str | None = None
    retries: int = 4
    timeout: float = 30.0
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
    backoff_initial: float = 1.0
    backoff_max: float = 30.0
    # Polled between requests, and wakes the backoff sleep: a shutdown never waits for retries.
    should_stop: Callable[[], bool] = never
    # Told before each backoff sleep what is retried and why (the CLI's spinner shows it).
    on_retry: Callable[[str], None] | None = None
    name: str = field(default="yahoo", init=False)
    # When Yahoo took each symbol's latest price, per the last response (its meta).
    _taken: dict[str, datetime | None] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> YahooSource:
        """A source using ROTATION_YAHOO_URL, ROTATION_FETCH_RETRIES and ROTATION_FETCH_TIMEOUT."""
        return cls(
            base_url=settings.yahoo_url,
            retries=settings.fetch_retries,
            timeout=settings.fetch_timeout,
        )

    def fetch(self, starts: dict[str, date]) -> FetchResult:
        """Bars per symbol from its start date to today; failures carry one readable reason."""
        result = FetchResult()
        if not starts:
            return result
        pending = dict(starts)
        try:
            for attempt in self._retrying():
                with attempt:
                    self._attempt(pending, result)
        except _Transient as exhausted:
            for symbol, reason in exhausted.reasons.items():
                result.failures[symbol] = self._gave_up(reason)
        flag_stale(result)
        return result

    def fetch_trailing_pe(
        self, symbols: Iterable[str], failures: dict[str, str] | None = None
    ) -> list[SeriesPoint]:
        """Trailing P/E per symbol as series `pe:<SYMBOL>`, dated the last NYSE session.

        Symbols without a usable P/E are left out; their reasons go into `failures` if given.
        """
        day = last_opened_session(self.clock())
        points = []
        for symbol in symbols:
            try:
                value = self._trailing_pe(symbol)
            except (SourceError, _Transient) as error:
                transient = error.reasons.get(symbol) if isinstance(error, _Transient) else None
                reason = self._gave_up(transient) if transient else str(error)
                if failures is not None:
                    failures[symbol] = reason
                log.warning("trailing P/E for %s: %s", symbol, reason)
                continue
            points.append(SeriesPoint(f"pe:{symbol}", day, value, source=self.name))
        return points

    def _gave_up(self, reason: str) -> str:
        tries = self.retries + 1
        return f"{reason} (gave up after {tries} attempt{'s' if tries > 1 else ''})"

    # -- prices -----------------------------------------------------------------------

    def _retrying(self) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential_jitter(initial=self.backoff_initial, max=self.backoff_max),
            retry=retry_if_exception_type(_Transient),
            before_sleep=self._before_sleep,
            sleep=self._backoff_sleep,
            reraise=True,
        )

    def _before_sleep(self, state: RetryCallState) -> None:
        text = log_retry(state)
        if self.on_retry is not None:
            self.on_retry(text)

    def _backoff_sleep(self, seconds: float) -> None:
        if self.should_stop():
            raise FetchInterrupted("shutting down: Yahoo retries abandoned")
        self.sleep(seconds)
        if self.should_stop():
            raise FetchInterrupted("shutting down: Yahoo retries abandoned")

    def _attempt(self, pending: dict[str, date], result: FetchResult) -> None:
        """Download what is pending; keep what arrived, raise _Transient for what may recover."""
        frames, outcomes = self._download(pending)
        repeats = dict(getattr(self._session(), "chart_duplicates", {}))
        now = self.clock()
        transient: dict[str, str] = {}
        for symbol, start in list(pending.items()):
            bars = frame_to_bars(frames.get(symbol), symbol, start, now, self.name)
            if symbol in repeats:
                bars, notes = resolve_repeats(bars, repeats[symbol])
                result.notes[symbol] = notes
            bars, partial = hold_partial_session(bars, self._taken.get(symbol))
            if partial:
                result.notes.setdefault(symbol, []).append(partial)
            if bars:
                result.bars[symbol] = bars
                result.failures.pop(symbol, None)
                del pending[symbol]
                continue
            reason, retry = explain_empty(symbol, start, outcomes.get(symbol))
            if retry:
                transient[symbol] = reason
            else:
                result.failures[symbol] = reason
                del pending[symbol]
        if transient:
            raise _Transient(transient)

    def _download(
        self, starts: dict[str, date]
    ) -> tuple[dict[str, pd.DataFrame], dict[str, int | str]]:
        """One chart request per symbol, each from its own start (not the batch's earliest)."""
        session = self._session()
        outcomes = getattr(session, "chart_outcomes", {})
        outcomes.clear()
        getattr(session, "chart_duplicates", {}).clear()
        self._taken.clear()
        forget_cached_responses()
        end = nyse.new_york_date(self.clock()) + timedelta(days=1)  # yfinance's end is exclusive
        frames = {}
        for symbol, start in sorted(starts.items()):
            if self.should_stop():
                raise FetchInterrupted("shutting down: the Yahoo download was cut short")
            try:
                frames[symbol] = self._history(session, symbol, start, end)
            except YFRateLimitError:
                outcomes[symbol] = 429
        return frames, dict(outcomes)

    def _history(self, session: Session, symbol: str, start: date, end: date) -> pd.DataFrame:
        """The daily bars of one symbol: exactly one chart request, never a time-zone lookup."""
        ticker = yf.Ticker(symbol, session=session)
        # Without a known time zone yfinance first asks Yahoo's chart endpoint for it (a second
        # request per symbol, every time when its disk cache is unavailable). The bot reads NYSE
        # sessions, so New York is right; the bars' own zone still comes from the answer.
        ticker._tz = nyse.NEW_YORK.key
        try:
            with quiet_yfinance():
                frame = ticker.history(
                    start=start.isoformat(), end=end.isoformat(), interval="1d",
                    auto_adjust=False, actions=False, timeout=self.timeout,
                )  # fmt: skip
        except YFRateLimitError:
            raise
        except RequestException:
            return pd.DataFrame()  # the session recorded the network error for this symbol
        except Exception as error:
            raise SourceError(f"Yahoo download failed: {type(error).__name__}: {error}") from error
        if frame is None or frame.empty:
            return pd.DataFrame()  # asking for the metadata now would send another request
        self._taken[symbol] = snapshot_time(ticker.get_history_metadata())
        return frame

    def _session(self) -> Session:
        if self.session is None:
            self.session = YahooSession(self.base_url)
        return self.session

    # -- valuation --------------------------------------------------------------------

    def _trailing_pe(self, symbol: str) -> float:
        for attempt in self._retrying():
            with attempt:
                return self._trailing_pe_once(symbol)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _trailing_pe_once(self, symbol: str) -> float:
        forget_cached_responses()
        try:
            with quiet_yfinance():
                info = yf.Ticker(symbol, session=self._session()).info
        except YFRateLimitError as error:
            raise _Transient({symbol: "rate limited by Yahoo (HTTP 429)"}) from error
        except RequestException as error:
            raise _Transient({symbol: describe_network_error(error)}) from error
        except Exception as error:  # yfinance raises bare YFException/JSON errors on odd replies
            raise SourceError(
                f"Yahoo info request failed: {type(error).__name__}: {error}"
            ) from error
        value = (info or {}).get("trailingPE")
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise SourceError(f"Yahoo has no trailing P/E for {symbol}")
        return float(value)


def frame_to_bars(
    frame: pd.DataFrame | None, symbol: str, start: date, now: datetime, source: str
) -> list[PriceBar]:
    """One symbol's rows of a yfinance history from `start`, without all-empty rows."""
    if frame is None or frame.empty:
        return []
    part = frame.rename(columns=_COLUMNS)
    if isinstance(part.index, pd.DatetimeIndex) and part.index.tz is not None:
        part.index = part.index.tz_localize(None)  # the exchange's wall-clock date is the bar's
    part = part[part.index >= pd.Timestamp(start)]
    part = part.dropna(how="all", subset=[c for c in _PRICES if c in part.columns])
    return [_to_bar(symbol, stamp.date(), row, now, source) for stamp, row in part.iterrows()]


def _to_bar(symbol: str, day: date, row: pd.Series, now: datetime, source: str) -> PriceBar:
    values = {column: _number(row.get(column)) for column in (*_PRICES, "volume")}
    return PriceBar(symbol, day, **values, final=not is_provisional(day, now), source=source)


def _number(value: object) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)  # type: ignore[arg-type]


def forget_cached_responses() -> None:
    """Drop yfinance's per-process response memo, which also keeps failed (5xx) responses."""
    cache_clear = getattr(getattr(YfData, "cache_get", None), "cache_clear", None)
    if cache_clear is not None:
        cache_clear()


class _DebugRelay(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log.debug("yfinance: %s", record.getMessage())


@contextmanager
def quiet_yfinance() -> Iterator[None]:
    """Keep yfinance's own error lines and pandas deprecation noise off the console.

    Failures are reported per symbol by this module; yfinance's lines go to DEBUG.
    """
    logger = logging.getLogger("yfinance")
    handler, propagate = _DebugRelay(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"yfinance(\.|$)")
            yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
