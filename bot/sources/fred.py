"""FRED daily series (DFEDTARU, DGS10, ...) through FRED's public CSV download; no API key.

`GET {url}?id=DGS10[&cosd=YYYY-MM-DD]` answers `observation_date,DGS10` (older files: `DATE,`)
with `.` or an empty cell for a day without an observation. Timeouts, 5xx and 429 are retried
with exponential backoff and jitter; anything else, or running out of attempts, is one
`SourceError` line. An unknown id makes FRED answer 404 with an HTML page.
"""

from __future__ import annotations

import http.client
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from email.message import Message

from bot.config import Settings
from bot.sources.base import SourceError
from bot.sources.series_csv import parse_series_csv
from signals.models import SeriesPoint

log = logging.getLogger(__name__)

USER_AGENT = "rotation-bot/0.1 (+https://github.com/rotation-bot)"
MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is capped rather than obeyed
# FRED revises recent observations now and then; an update refetches this far back.
REVISION_OVERLAP = timedelta(days=7)


def update_start(last: date | None) -> date | None:
    """Where an incremental download starts: a week before the last stored date (all if none)."""
    return last - REVISION_OVERLAP if last else None


class _Retryable(Exception):
    """A failure worth another attempt; `delay` is the server's Retry-After, if any."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class FredSource:
    """A `SeriesSource` for FRED's CSV endpoint."""

    name = "fred"

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
    def from_settings(cls, settings: Settings, **kwargs: object) -> FredSource:
        """A source using FRED_CSV_URL, ROTATION_FETCH_RETRIES and ROTATION_FETCH_TIMEOUT."""
        return cls(
            settings.fred_url,
            retries=settings.fetch_retries,
            timeout=settings.fetch_timeout,
            **kwargs,  # type: ignore[arg-type]
        )

    def fetch_series(self, series_ids: Sequence[str], start: date | None) -> list[SeriesPoint]:
        """Points for every id from `start` (inclusive) or the whole history; fail on any id."""
        return [point for sid in series_ids for point in self.fetch_one(sid, start)]

    def fetch_one(self, series_id: str, start: date | None = None) -> list[SeriesPoint]:
        """Observations of one FRED series, oldest first; raise SourceError on failure."""
        series_id = series_id.strip().upper()  # FRED ids are case-insensitive, canonical upper
        text = self._download(series_id, start)
        dropped: list[str] = []
        name = f"FRED {series_id}"
        points = parse_series_csv(text, name, source=self.name, stem=series_id, dropped=dropped)
        if dropped:
            log.warning(
                "FRED %s: dropped %d point(s): %s", series_id, len(dropped), "; ".join(dropped)
            )
        if [key.upper() for key in points] != [series_id]:
            raise SourceError(f"FRED answered with {', '.join(points)} instead of {series_id}")
        kept = next(iter(points.values()))
        # Never hand back more than was asked for, whatever the server did with cosd.
        return [
            SeriesPoint(series_id, p.date, p.value, self.name)
            for p in kept
            if start is None or p.date >= start
        ]

    def request_url(self, series_id: str, start: date | None) -> str:
        """The download URL for one series."""
        query = {"id": series_id} | ({"cosd": start.isoformat()} if start else {})
        return f"{self.url}?{urllib.parse.urlencode(query)}"

    def fetch_levels(self, series_id: str, start: date) -> dict[date, float]:
        """Observations of a series that is no rate (SP500: index points), from `start`.

        Only the wire format is checked here: the rate bounds of `fetch_one` do not apply.
        """
        levels = {}
        for line in self._download(series_id, start).splitlines()[1:]:
            day, _, cell = line.partition(",")
            try:
                levels[date.fromisoformat(day.strip())] = float(cell)
            except ValueError:
                continue  # "." or an empty cell: no observation that day
        return {day: value for day, value in levels.items() if day >= start}

    def _download(self, series_id: str, start: date | None) -> str:
        url = self.request_url(series_id, start)
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return self._get(url, series_id)
            except _Retryable as failure:
                if attempt + 1 == attempts:
                    raise SourceError(
                        f"FRED download of {series_id} failed after {attempts} attempts: "
                        f"{failure.reason}"
                    ) from None
                delay = self._backoff(attempt, failure.delay)
                log.warning("FRED %s: %s; retrying in %.1fs", series_id, failure.reason, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with equal jitter, or the server's Retry-After (capped)."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        ceiling = self.base_delay * 2**attempt
        return ceiling / 2 + self._jitter() * ceiling / 2

    def _get(self, url: str, series_id: str) -> str:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = response.read()
                content_type = response.headers.get_content_type()
        except urllib.error.HTTPError as error:
            raise _http_failure(error, series_id) from None
        except TimeoutError:
            raise _Retryable(f"timed out after {self.timeout:g}s") from None
        except urllib.error.URLError as error:
            raise _url_failure(error, url) from None
        except (OSError, http.client.HTTPException) as error:
            # The connection broke mid-answer (reset, truncated body): worth another try.
            raise _Retryable(f"connection failed ({type(error).__name__}: {error})") from None
        return _csv_text(body, content_type, series_id)


def _http_failure(error: urllib.error.HTTPError, series_id: str) -> Exception:
    status = f"HTTP {error.code} {error.reason}".strip()
    error.close()
    if error.code == 429 or error.code >= 500:
        return _Retryable(status, _retry_after(error.headers))
    if error.code == 404:
        return SourceError(f"FRED has no series {series_id!r} ({status}); check the id")
    return SourceError(f"FRED refused the download of {series_id}: {status}")


def _url_failure(error: urllib.error.URLError, url: str) -> Exception:
    if isinstance(error.reason, TimeoutError):
        return _Retryable("timed out")
    host = urllib.parse.urlsplit(url).netloc
    # Unreachable host (no network, a DNS failure, a proxy starting): retried like Yahoo, a
    # network that comes back within the backoff is not a failure.
    return _Retryable(f"cannot reach FRED at {host}: {error.reason}")


def _retry_after(headers: Message | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date; fall back to our own backoff


def _csv_text(body: bytes, content_type: str, series_id: str) -> str:
    text = body.decode("utf-8-sig", errors="replace")
    if content_type == "text/html" or text.lstrip().startswith("<"):
        raise SourceError(
            f"FRED sent an HTML page instead of CSV for {series_id!r}; is the id right?"
        )
    if not text.strip():
        raise SourceError(f"FRED sent an empty answer for {series_id}")
    return text
