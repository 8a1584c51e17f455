"""One retrying HTTP GET shared by the file sources (FRED, Stooq, the French library).

Timeouts, broken connections, 5xx and 429 are retried with exponential backoff and equal jitter
(or the server's Retry-After, capped); anything else, or running out of attempts, is one
`SourceError` line. A source subclasses `HttpDownload` and words its own messages through the
hooks (`_label`, `_gave_up`, `_refused`, `_unreachable`); what it does with the body is its own.
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
from email.message import Message
from typing import Any, ClassVar, Self

from bot.config import Settings
from bot.sources.base import SourceError

USER_AGENT = "rotation-bot/0.1 (+https://github.com/rotation-bot)"
MAX_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is capped rather than obeyed


class Retryable(Exception):
    """A failure worth another attempt; `delay` is the server's Retry-After, if any."""

    def __init__(self, reason: str, delay: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class HttpDownload:
    """Retries, backoff and the urllib error mapping; subclasses set the wording."""

    url_setting: ClassVar[str]  # the `Settings` field holding the download URL
    log: ClassVar[logging.Logger]  # the source's own logger, so its warnings keep their name

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
    def from_settings(cls, settings: Settings, **kwargs: Any) -> Self:
        """A source using its URL setting, ROTATION_FETCH_RETRIES and ROTATION_FETCH_TIMEOUT."""
        return cls(
            getattr(settings, cls.url_setting),
            retries=settings.fetch_retries,
            timeout=settings.fetch_timeout,
            **kwargs,
        )

    def _label(self, what: str) -> str:
        """How a retry warning names the download (`FRED DGS10`)."""
        raise NotImplementedError

    def _gave_up(self, what: str, attempts: int, reason: str) -> str:
        """The final message once every attempt failed."""
        raise NotImplementedError

    def _refused(self, what: str, code: int, status: str) -> SourceError:
        """The error for a 4xx other than 429 (never retried)."""
        raise NotImplementedError

    def _unreachable(self, error: urllib.error.URLError, url: str) -> Exception:
        """A `Retryable` or a `SourceError` for a host that could not be reached."""
        raise NotImplementedError

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        """The body; a source may check the headers first (raise SourceError to refuse)."""
        return response.read()

    def _download(self, url: str, what: str) -> tuple[bytes, str]:
        """(body, content type) of a GET of `url`, retried; `what` names it in messages."""
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return self._get(url, what)
            except Retryable as failure:
                if attempt + 1 == attempts:
                    raise SourceError(self._gave_up(what, attempts, failure.reason)) from None
                delay = self._backoff(attempt, failure.delay)
                self.log.warning(
                    "%s: %s; retrying in %.1fs", self._label(what), failure.reason, delay
                )
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with equal jitter, or the server's Retry-After (capped)."""
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER)
        ceiling = self.base_delay * 2**attempt
        return ceiling / 2 + self._jitter() * ceiling / 2

    def _get(self, url: str, what: str) -> tuple[bytes, str]:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                body = self._read(response)  # IncompleteRead when the connection drops early
                return body, response.headers.get_content_type()
        except urllib.error.HTTPError as error:
            raise self._http_failure(error, what) from None
        except TimeoutError:
            raise Retryable(f"timed out after {self.timeout:g}s") from None
        except urllib.error.URLError as error:
            raise self._unreachable(error, url) from None
        except (OSError, http.client.HTTPException) as error:
            # The connection broke mid-answer (reset, truncated body): worth another try.
            raise Retryable(f"connection failed ({type(error).__name__}: {error})") from None

    def _http_failure(self, error: urllib.error.HTTPError, what: str) -> Exception:
        status = f"HTTP {error.code} {error.reason}".strip()
        headers = error.headers
        error.close()
        if error.code == 429 or error.code >= 500:
            return Retryable(status, retry_after(headers))
        return self._refused(what, error.code, status)


def retry_after(headers: Message | None) -> float | None:
    """The server's Retry-After in seconds; None when absent or an HTTP date."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date; fall back to our own backoff


def host_of(url: str) -> str:
    """The host:port part of a URL, for messages."""
    return urllib.parse.urlsplit(url).netloc
