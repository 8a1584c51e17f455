"""Download a Kenneth R. French Data Library file (a zip over HTTPS) and parse it.

The library publishes each file at a fixed address and replaces it about once a month with a
new CRSP vintage. Timeouts, broken connections, 5xx and 429 are retried with exponential
backoff and jitter; a 404, an HTML page or a file that does not parse is one `SourceError`
line (nothing is stored: `bot.sources.valuation` stores only a whole parsed file).
"""

from __future__ import annotations

import http.client
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from bot.config import Settings
from bot.sources.base import SourceError
from bot.sources.french_csv import FrenchFile, parse_french_bytes

log = logging.getLogger(__name__)

USER_AGENT = "rotation-bot/0.1 (+https://github.com/rotation-bot)"
MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is capped rather than obeyed
MAX_DOWNLOAD = 20_000_000  # bytes; the 5x5 zip is about 0.6 MB


class _Retryable(Exception):
    """A failure worth another attempt; `delay` is the server's Retry-After, if any."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class FrenchSource:
    """Fetches one library file (the 25 size x book-to-market portfolios by default)."""

    name = "french"

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
    def from_settings(cls, settings: Settings, **kwargs: object) -> FrenchSource:
        """A source using FRENCH_5X5_URL, ROTATION_FETCH_RETRIES and ROTATION_FETCH_TIMEOUT."""
        return cls(
            settings.french_url,
            retries=settings.fetch_retries,
            timeout=settings.fetch_timeout,
            **kwargs,  # type: ignore[arg-type]
        )

    def fetch(self) -> FrenchFile:
        """The parsed current file; SourceError (one line) on any failure."""
        data = self._download()
        return parse_french_bytes(data, f"French library file from {self._host()}")

    def _host(self) -> str:
        return urllib.parse.urlsplit(self.url).netloc or self.url

    def _download(self) -> bytes:
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return self._get()
            except _Retryable as failure:
                if attempt + 1 == attempts:
                    raise SourceError(
                        f"French library download from {self._host()} failed after"
                        f" {attempts} attempts: {failure.reason}"
                    ) from None
                delay = self._backoff(attempt, failure.delay)
                log.warning("French library: %s; retrying in %.1fs", failure.reason, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with equal jitter, or the server's Retry-After (capped)."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        ceiling = self.base_delay * 2**attempt
        return ceiling / 2 + self._jitter() * ceiling / 2

    def _get(self) -> bytes:
        request = urllib.request.Request(self.url, headers={"User-Agent": USER_AGENT})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                announced = _announced_length(response.headers.get("Content-Length"))
                if announced > MAX_DOWNLOAD:
                    raise SourceError(f"{self._host()} announced {announced:,} bytes; refused")
                body = response.read()  # raises IncompleteRead when the connection drops early
        except urllib.error.HTTPError as error:
            raise _http_failure(error) from None
        except TimeoutError:
            raise _Retryable(f"timed out after {self.timeout:g}s") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise _Retryable("timed out") from None
            raise SourceError(f"cannot reach {self._host()}: {error.reason}") from None
        except (OSError, http.client.HTTPException) as error:
            # The connection broke mid-answer (reset, a body shorter than announced): retry.
            raise _Retryable(f"connection failed ({type(error).__name__}: {error})") from None
        if len(body) > MAX_DOWNLOAD:
            raise SourceError(f"{self._host()} sent more than {MAX_DOWNLOAD:,} bytes; refused")
        return body


def _http_failure(error: urllib.error.HTTPError) -> Exception:
    status = f"HTTP {error.code} {error.reason}".strip()
    headers = error.headers
    error.close()
    if error.code == 429 or error.code >= 500:
        return _Retryable(status, _retry_after(headers.get("Retry-After") if headers else None))
    return SourceError(f"the French library refused the download: {status}; check FRENCH_5X5_URL")


def _announced_length(value: str | None) -> int:
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date; fall back to our own backoff
