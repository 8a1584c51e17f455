"""Download a Kenneth R. French Data Library file (a zip over HTTPS) and parse it.

The library publishes each file at a fixed address and replaces it about once a month with a
new CRSP vintage. Timeouts, broken connections, 5xx and 429 are retried with exponential
backoff and jitter; a 404, an HTML page or a file that does not parse is one `SourceError`
line (nothing is stored: `bot.sources.valuation` stores only a whole parsed file).
"""

from __future__ import annotations

import http.client
import logging
import urllib.error
import urllib.parse

from bot.sources.base import SourceError
from bot.sources.french_csv import FrenchFile, parse_french_bytes
from bot.sources.http_download import HttpDownload, Retryable

log = logging.getLogger(__name__)

MAX_DOWNLOAD = 20_000_000  # bytes; the 5x5 zip is about 0.6 MB


class FrenchSource(HttpDownload):
    """Fetches one library file (the 25 size x book-to-market portfolios by default)."""

    name = "french"
    url_setting = "french_url"
    log = log

    def fetch(self) -> FrenchFile:
        """The parsed current file; SourceError (one line) on any failure."""
        data = self._download_file()
        return parse_french_bytes(data, f"French library file from {self._host()}")

    def _host(self) -> str:
        return urllib.parse.urlsplit(self.url).netloc or self.url

    def _download_file(self) -> bytes:
        body, _ = self._download(self.url, self._host())
        if len(body) > MAX_DOWNLOAD:
            raise SourceError(f"{self._host()} sent more than {MAX_DOWNLOAD:,} bytes; refused")
        return body

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        announced = _announced_length(response.headers.get("Content-Length"))
        if announced > MAX_DOWNLOAD:
            raise SourceError(f"{self._host()} announced {announced:,} bytes; refused")
        return response.read()

    def _label(self, what: str) -> str:
        return "French library"

    def _gave_up(self, what: str, attempts: int, reason: str) -> str:
        return f"French library download from {what} failed after {attempts} attempts: {reason}"

    def _refused(self, what: str, code: int, status: str) -> SourceError:
        return SourceError(
            f"the French library refused the download: {status}; check FRENCH_5X5_URL"
        )

    def _unreachable(self, error: urllib.error.URLError, url: str) -> Exception:
        if isinstance(error.reason, TimeoutError):
            return Retryable("timed out")
        # Retried like FRED, Stooq and Yahoo: a network back within the backoff is no failure.
        return Retryable(f"cannot reach {self._host()}: {error.reason}")


def _announced_length(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0
