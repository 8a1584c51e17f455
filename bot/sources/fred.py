"""FRED daily series (DFEDTARU, DGS10, ...) through FRED's public CSV download; no API key.

`GET {url}?id=DGS10[&cosd=YYYY-MM-DD]` answers `observation_date,DGS10` (older files: `DATE,`)
with `.` or an empty cell for a day without an observation. Timeouts, 5xx and 429 are retried
with exponential backoff and jitter; anything else, or running out of attempts, is one
`SourceError` line. An unknown id makes FRED answer 404 with an HTML page.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
from collections.abc import Sequence
from datetime import date, timedelta

from bot.sources.base import SourceError
from bot.sources.http_download import HttpDownload, Retryable, host_of
from bot.sources.series_csv import parse_series_csv
from signals.models import SeriesPoint

log = logging.getLogger(__name__)

# FRED revises recent observations now and then; an update refetches this far back.
REVISION_OVERLAP = timedelta(days=7)


def update_start(last: date | None) -> date | None:
    """Where an incremental download starts: a week before the last stored date (all if none)."""
    return last - REVISION_OVERLAP if last else None


class FredSource(HttpDownload):
    """A `SeriesSource` for FRED's CSV endpoint."""

    name = "fred"
    url_setting = "fred_url"
    log = log

    def fetch_series(self, series_ids: Sequence[str], start: date | None) -> list[SeriesPoint]:
        """Points for every id from `start` (inclusive) or the whole history; fail on any id."""
        return [point for sid in series_ids for point in self.fetch_one(sid, start)]

    def fetch_one(self, series_id: str, start: date | None = None) -> list[SeriesPoint]:
        """Observations of one FRED series, oldest first; raise SourceError on failure."""
        series_id = series_id.strip().upper()  # FRED ids are case-insensitive, canonical upper
        text = self._download_text(series_id, start)
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
        for line in self._download_text(series_id, start).splitlines()[1:]:
            day, _, cell = line.partition(",")
            try:
                levels[date.fromisoformat(day.strip())] = float(cell)
            except ValueError:
                continue  # "." or an empty cell: no observation that day
        return {day: value for day, value in levels.items() if day >= start}

    def _download_text(self, series_id: str, start: date | None) -> str:
        body, content_type = self._download(self.request_url(series_id, start), series_id)
        return _csv_text(body, content_type, series_id)

    def _label(self, what: str) -> str:
        return f"FRED {what}"

    def _gave_up(self, what: str, attempts: int, reason: str) -> str:
        return f"FRED download of {what} failed after {attempts} attempts: {reason}"

    def _refused(self, what: str, code: int, status: str) -> SourceError:
        if code == 404:
            return SourceError(f"FRED has no series {what!r} ({status}); check the id")
        return SourceError(f"FRED refused the download of {what}: {status}")

    def _unreachable(self, error: urllib.error.URLError, url: str) -> Exception:
        if isinstance(error.reason, TimeoutError):
            return Retryable("timed out")
        # Unreachable host (no network, a DNS failure, a proxy starting): retried like Yahoo, a
        # network that comes back within the backoff is not a failure.
        return Retryable(f"cannot reach FRED at {host_of(url)}: {error.reason}")


def _csv_text(body: bytes, content_type: str, series_id: str) -> str:
    text = body.decode("utf-8-sig", errors="replace")
    if content_type == "text/html" or text.lstrip().startswith("<"):
        raise SourceError(
            f"FRED sent an HTML page instead of CSV for {series_id!r}; is the id right?"
        )
    if not text.strip():
        raise SourceError(f"FRED sent an empty answer for {series_id}")
    return text
