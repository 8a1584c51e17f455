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
import io
import logging
import urllib.error
import urllib.parse
from datetime import date

from bot.sources.base import SourceError
from bot.sources.http_download import HttpDownload, Retryable, host_of

log = logging.getLogger(__name__)


class StooqSource(HttpDownload):
    """Daily closes of one Stooq symbol (`^rut`, `^spx`, `iwm.us`)."""

    name = "stooq"
    url_setting = "stooq_url"
    log = log

    def request_url(self, symbol: str, start: date | None) -> str:
        """The download URL for one symbol's daily bars."""
        query = {"s": symbol, "i": "d"} | ({"d1": start.strftime("%Y%m%d")} if start else {})
        return f"{self.url}?{urllib.parse.urlencode(query)}"

    def fetch_levels(self, symbol: str, start: date) -> dict[date, float]:
        """Raw daily closes of `symbol` from `start` (inclusive); SourceError on failure."""
        symbol = symbol.strip().lower()  # Stooq symbols are lower case on its own pages
        closes = parse_closes(self._download_text(symbol, start), symbol)
        # Never hand back more than was asked for, whatever the server did with d1.
        return {day: value for day, value in closes.items() if day >= start}

    def _download_text(self, symbol: str, start: date | None) -> str:
        body, _ = self._download(self.request_url(symbol, start), symbol)
        return body.decode("utf-8-sig", errors="replace")

    def _label(self, what: str) -> str:
        return f"Stooq {what}"

    def _gave_up(self, what: str, attempts: int, reason: str) -> str:
        return f"Stooq download of {what} failed after {attempts} attempts: {reason}"

    def _refused(self, what: str, code: int, status: str) -> SourceError:
        return SourceError(f"Stooq refused the download of {what}: {status}")

    def _unreachable(self, error: urllib.error.URLError, url: str) -> Exception:
        return Retryable(f"cannot reach Stooq at {host_of(url)}: {error.reason}")


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
