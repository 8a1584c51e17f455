"""The HTTP session yfinance uses for us: records per-symbol chart outcomes, optional re-routing.

yfinance swallows per-ticker failures, so `YahooSession` remembers what happened to the last
chart request of each symbol (HTTP status, or a short text for a network error); the Yahoo
source reads it to tell a rate limit or 5xx (retry) from an unknown symbol (report).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from curl_cffi.requests import Session
from curl_cffi.requests.exceptions import RequestException

_CHART_PATH = re.compile(r"/v8/finance/chart/([^/?#]+)")


class YahooSession(Session):
    """A curl_cffi session that remembers the outcome of the last chart request per symbol.

    `chart_outcomes[symbol]` is the HTTP status, or a short text for a network error. With a
    `base_url` (ROTATION_YAHOO_URL), every `https://<host>.yahoo.com/<path>` request goes to
    `<base_url>/<host>.yahoo.com/<path>` instead: a mirror, or the local fake in tests.
    """

    def __init__(self, base_url: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("impersonate", "chrome")
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.chart_outcomes: dict[str, int | str] = {}

    def request(self, method: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        """Send the request (re-routed if configured) and record a chart request's outcome."""
        match = _CHART_PATH.search(url)
        symbol = unquote(match.group(1)).upper() if match else None
        try:
            response = super().request(method, self.route(url), *args, **kwargs)
        except RequestException as error:
            if symbol:
                self.chart_outcomes[symbol] = describe_network_error(error)
            raise
        if symbol:
            self.chart_outcomes[symbol] = response.status_code
        return response

    def route(self, url: str) -> str:
        """Where a request for `url` really goes."""
        parts = urlsplit(url)
        if self.base_url is None or not (parts.hostname or "").endswith("yahoo.com"):
            return url
        query = f"?{parts.query}" if parts.query else ""
        return f"{self.base_url}/{parts.hostname}{parts.path or '/'}{query}"


def describe_network_error(error: BaseException) -> str:
    """One short line for a curl error (no URL query strings, no help links)."""
    text = str(error).removeprefix("Failed to perform, ").split(". See ")[0]
    return f"{type(error).__name__}: {text}"[:160]
