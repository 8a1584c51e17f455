"""Stooq's daily CSV download, a second source for indices and ETFs (issue 19 item 2).

`GET {url}?s=iwm.us&i=d[&d1=YYYYMMDD]` answers `Date,Open,High,Low,Close,Volume` (indices may
lack `Volume`). An unknown symbol is a 200 with the body `No data`; an outage is often a 200 or
5xx HTML page. Stooq's ETF closes are the traded closes, not dividend-adjusted like Yahoo's
`Adj Close`, so `fetch_levels` hands back `Close` for comparison with the stored raw close.
Timeouts, broken connections, 5xx and 429 are retried with exponential backoff and jitter;
anything else, or running out of attempts, is one `SourceError` line.
"""

from __future__ import annotations

import csv
import http.client
import io
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import date

from bot.config import Settings
from bot.sources.base import SourceError

log = logging.getLogger(__name__)

USER_AGENT = "rotation-bot/0.1 (+https://github.com/rotation-bot)"
MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is capped rather than obeyed


class _Retryable(Exception):
    """A failure worth another attempt; `delay` is the server's Retry-After, if any."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class StooqSource:
    """Daily closes of one Stooq symbol (`^rut`, `^spx`, `iwm.us`)."""

    name = "stooq"

    def __init__(
        self,
        url: str,
        *,
        retries: int = 4,
        timeout: float = 30.0,
        base_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.url = url
        self.retries = retries
        self.timeout = timeout
        self.base_delay = base_delay
        self._sleep = sleep
        self._jitter = jitter

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: object) -> StooqSource:
        """A source using STOOQ_CSV_URL, ROTATION_FETCH_RETRIES and ROTATION_FETCH_TIMEOUT."""
        return cls(
            settings.stooq_url,
            retries=settings.fetch_retries,
            timeout=settings.fetch_timeout,
            **kwargs,  # type: ignore[arg-type]
        )

    def request_url(self, symbol: str, start: date | None) -> str:
        """The download URL for one symbol's daily bars."""
        query = {"s": symbol, "i": "d"} | ({"d1": start.strftime("%Y%m%d")} if start else {})
        return f"{self.url}?{urllib.parse.urlencode(query)}"

    def fetch_levels(self, symbol: str, start: date) -> dict[date, float]:
        """Raw daily closes of `symbol` from `start` (inclusive); SourceError on failure."""
        symbol = symbol.strip().lower()  # Stooq symbols are lower case on its own pages
        closes = parse_closes(self._download(symbol, start), symbol)
        # Never hand back more than was asked for, whatever the server did with d1.
        return {day: value for day, value in closes.items() if day >= start}

    def _download(self, symbol: str, start: date | None) -> str:
        url = self.request_url(symbol, start)
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return self._get(url, symbol)
            except _Retryable as failure:
                if attempt + 1 == attempts:
                    raise SourceError(
                        f"Stooq download of {symbol} failed after {attempts} attempts: "
                        f"{failure.reason}"
                    ) from None
                delay = self._backoff(attempt, failure.delay)
                log.warning("Stooq %s: %s; retrying in %.1fs", symbol, failure.reason, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with equal jitter, or the server's Retry-After (capped)."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        ceiling = self.base_delay * 2**attempt
        return ceiling / 2 + self._jitter() * ceiling / 2

    def _get(self, url: str, symbol: str) -> str:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
        except urllib.error.HTTPError as error:
            raise _http_failure(error, symbol) from None
        except TimeoutError:
            raise _Retryable(f"timed out after {self.timeout:g}s") from None
        except urllib.error.URLError as error:
            host = urllib.parse.urlsplit(url).netloc
            raise _Retryable(f"cannot reach Stooq at {host}: {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            # The connection broke mid-answer (reset, truncated body): worth another try.
            raise _Retryable(f"connection failed ({type(error).__name__}: {error})") from None
        return body.decode("utf-8-sig", errors="replace")


def _http_failure(error: urllib.error.HTTPError, symbol: str) -> Exception:
    status = f"HTTP {error.code} {error.reason}".strip()
    headers = error.headers
    error.close()
    if error.code == 429 or error.code >= 500:
        return _Retryable(status, _retry_after(headers.get("Retry-After") if headers else None))
    return SourceError(f"Stooq refused the download of {symbol}: {status}")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date; fall back to our own backoff


def parse_closes(text: str, symbol: str) -> dict[date, float]:
    """{date: Close} from Stooq's CSV; one SourceError line for `No data` or an HTML page."""
    stripped = text.strip()
    if not stripped or stripped.lower().startswith("no data"):
        raise SourceError(f"Stooq has no data for {symbol!r}; check the symbol (^rut, iwm.us)")
    if stripped.startswith("<"):
        raise SourceError(f"Stooq sent an HTML page instead of CSV for {symbol!r}")
    rows = csv.DictReader(io.StringIO(stripped))
    if not rows.fieldnames or not {"Date", "Close"} <= set(rows.fieldnames):
        head = stripped.splitlines()[0][:60]
        raise SourceError(f"Stooq sent no Date,Close columns for {symbol!r} (got {head!r})")
    closes = {}
    for row in rows:
        try:
            closes[date.fromisoformat(row["Date"].strip())] = float(row["Close"])
        except (ValueError, TypeError, AttributeError):
            continue  # a torn or empty row: no close that day, the others still count
    return closes
