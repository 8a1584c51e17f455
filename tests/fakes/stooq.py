"""A local stand-in for Stooq's daily CSV download (`/q/d/l/?s=^rut&i=d&d1=...`) on 127.0.0.1.

It speaks Stooq's documented wire format: `Date,Open,High,Low,Close,Volume`, the body `No data`
(status 200) for an unknown symbol, and whatever failures a test scripts first (`fail_next`:
5xx or 429 with an HTML page, a 200 HTML page). Rows come from `../shared/data/prices` files
(`rows_from_prices`): Stooq's close is the raw `Close`, never Yahoo's `Adj Close`.
"""

from __future__ import annotations

import csv
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from tests.fakes.file_server import Failure, Reply, failure_reply, query_handler, serving

COLUMNS = ("Date", "Open", "High", "Low", "Close", "Volume")


def rows_from_prices(path: Path, start: date, end: date) -> list[tuple[str, ...]]:
    """Stooq rows (Date, Open, High, Low, Close, Volume) of a shared prices file."""
    with path.open(newline="") as handle:
        return [
            tuple(row[column] for column in COLUMNS)
            for row in csv.DictReader(handle)
            if start.isoformat() <= row["Date"] <= end.isoformat()
        ]


@dataclass
class FakeStooq:
    """The fake's state: rows per lower-case symbol, scripted failures, requests seen."""

    symbols: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    failures: dict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def fail_next(self, symbol: str, *failures: Failure) -> None:
        """Answer the next requests for `symbol` with these failures, in order."""
        self.failures[symbol].extend(failures)

    def answer(self, query: dict[str, str]) -> Reply:
        """Status, headers and body for one request."""
        self.requests.append(query)
        symbol = query.get("s", "").lower()
        pending = self.failures.get(symbol)
        if pending:
            return failure_reply(pending.popleft())
        if symbol not in self.symbols or query.get("i") != "d":
            return 200, {"Content-Type": "text/plain"}, b"No data"
        return 200, {"Content-Type": "text/csv"}, self._csv(symbol, query.get("d1"))

    def _csv(self, symbol: str, d1: str | None) -> bytes:
        start = f"{d1[:4]}-{d1[4:6]}-{d1[6:]}" if d1 else ""
        lines = [",".join(COLUMNS)]
        lines += [",".join(row) for row in self.symbols[symbol] if row[0] >= start]
        return ("\r\n".join(lines) + "\r\n").encode()


@contextmanager
def serve_stooq(fake: FakeStooq | None = None) -> Iterator[FakeStooq]:
    """Run the fake on a free port; `fake.url` is the `/q/d/l/` URL to configure."""
    fake = fake or FakeStooq()
    with serving(query_handler("/q/d/l/", b"<html>Not Found</html>", fake.answer)) as port:
        fake.url = f"http://127.0.0.1:{port}/q/d/l/"
        yield fake
