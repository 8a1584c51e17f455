"""The HTTP session yfinance uses for us: records per-symbol chart outcomes, optional re-routing.

yfinance swallows per-ticker failures, so `YahooSession` remembers what happened to the last
chart request of each symbol (HTTP status, or a short text for a network error); the Yahoo
source reads it to tell a rate limit or 5xx (retry) from an unknown symbol (report).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from curl_cffi.requests import Session
from curl_cffi.requests.exceptions import RequestException

from bot.calendar import new_york_date

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
        # Every copy of a timestamp a chart body repeats, per symbol and New York date:
        # yfinance silently keeps the first copy, which may be the bad one.
        self.chart_duplicates: dict[str, dict[date, list[dict[str, float]]]] = {}

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
            self._note_duplicates(symbol, response)
        return response

    def _note_duplicates(self, symbol: str, response: Any) -> None:
        if response.status_code != 200:
            return
        try:
            result = response.json()["chart"]["result"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            return  # not a chart body yfinance can read either; it reports that itself
        copies = repeated_timestamps(result)
        if copies:
            self.chart_duplicates[symbol] = copies

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


def repeated_timestamps(result: dict[str, Any]) -> dict[date, list[dict[str, float]]]:
    """Each copy of a repeated timestamp in a chart result: its date and values per copy."""
    stamps = result.get("timestamp") or []
    seen: dict[int, list[int]] = {}
    for index, stamp in enumerate(stamps):
        seen.setdefault(stamp, []).append(index)
    repeated = {stamp: rows for stamp, rows in seen.items() if len(rows) > 1}
    if not repeated:
        return {}
    columns = _columns(result.get("indicators") or {})
    return {
        _new_york_day(stamp): [_values(columns, row) for row in rows]
        for stamp, rows in repeated.items()
    }


def _columns(indicators: dict[str, Any]) -> dict[str, list[Any]]:
    quote = (indicators.get("quote") or [{}])[0] or {}
    adjusted = (indicators.get("adjclose") or [{}])[0] or {}
    return {**quote, "adj_close": adjusted.get("adjclose") or []}


def _values(columns: dict[str, list[Any]], row: int) -> dict[str, float]:
    values = {}
    for name, cells in columns.items():
        cell = cells[row] if row < len(cells) else None
        if isinstance(cell, int | float) and math.isfinite(cell):
            values[name] = float(cell)
    return values


def _new_york_day(stamp: int) -> date:
    return new_york_date(datetime.fromtimestamp(stamp, UTC))
