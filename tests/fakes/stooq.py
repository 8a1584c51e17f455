"""A local stand-in for Stooq's daily CSV download (`/q/d/l/?s=^rut&i=d&d1=...`) on 127.0.0.1.

It speaks Stooq's documented wire format: `Date,Open,High,Low,Close,Volume`, the body `No data`
(status 200) for an unknown symbol, and whatever failures a test scripts first (`fail_next`:
5xx or 429 with an HTML page, a 200 HTML page). Rows come from `../shared/data/prices` files
(`rows_from_prices`): Stooq's close is the raw `Close`, never Yahoo's `Adj Close`.
"""

from __future__ import annotations

import csv
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.fakes.fred import Failure

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

    def answer(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one request."""
        self.requests.append(query)
        symbol = query.get("s", "").lower()
        pending = self.failures.get(symbol)
        if pending:
            failure = pending.popleft()
            return failure.status, {"Content-Type": failure.content_type}, failure.body
        if symbol not in self.symbols or query.get("i") != "d":
            return 200, {"Content-Type": "text/plain"}, b"No data"
        return 200, {"Content-Type": "text/csv"}, self._csv(symbol, query.get("d1"))

    def _csv(self, symbol: str, d1: str | None) -> bytes:
        start = f"{d1[:4]}-{d1[4:6]}-{d1[6:]}" if d1 else ""
        lines = [",".join(COLUMNS)]
        lines += [",".join(row) for row in self.symbols[symbol] if row[0] >= start]
        return ("\r\n".join(lines) + "\r\n").encode()


def _handler(fake: FakeStooq) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
            if parts.path != "/q/d/l/":
                self._send(404, {"Content-Type": "text/html"}, b"<html>Not Found</html>")
                return
            self._send(*fake.answer(query))

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            try:
                self.send_response(status)
                headers.setdefault("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve_stooq(fake: FakeStooq | None = None) -> Iterator[FakeStooq]:
    """Run the fake on a free port; `fake.url` is the `/q/d/l/` URL to configure."""
    fake = fake or FakeStooq()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}/q/d/l/"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
