"""A local stand-in for FRED's CSV download (`fredgraph.csv?id=...&cosd=...`) on 127.0.0.1.

It speaks the real wire format: `observation_date,<ID>` (or the older `DATE,<ID>`) with `.` or
an empty cell for a missing observation, 404 with an HTML page for an unknown id, and whatever
failures a test scripts first (`fail_next`: 5xx, 429 with Retry-After, a slow answer).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

NOT_FOUND_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><title>Error - FRED | St. Louis Fed</title></head>
<body><h1>Error</h1><p>Series not found.</p></body></html>
"""


@dataclass
class Failure:
    """One scripted bad answer: an HTTP status (with optional Retry-After) or a delay."""

    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    body: bytes = b"<html><body>Service Unavailable</body></html>"
    content_type: str = "text/html"
    truncate: bool = False  # promise more bytes than are sent, then hang up


@dataclass
class FakeFred:
    """The fake's state: series (date -> cell text), scripted failures, requests seen."""

    series: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    header: str = "observation_date"
    failures: dict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    html_ok: set[str] = field(default_factory=set)  # ids answered 200 with an HTML page
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    def fail_next(self, series_id: str, *failures: Failure) -> None:
        """Answer the next requests for `series_id` with these failures, in order."""
        self.failures[series_id].extend(failures)

    def answer(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one request."""
        self.requests.append(query)
        series_id = query.get("id", "")
        pending = self.failures.get(series_id)
        if pending:
            return self._failure(pending.popleft())
        if series_id in self.html_ok:
            return 200, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_PAGE
        if series_id.upper() not in self.series:
            return 404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_PAGE
        return 200, {"Content-Type": "text/csv"}, self._csv(series_id.upper(), query.get("cosd"))

    def _failure(self, failure: Failure) -> tuple[int, dict[str, str], bytes]:
        if failure.delay:
            time.sleep(failure.delay)
        headers = {"Content-Type": failure.content_type}
        if failure.truncate:
            headers["Content-Length"] = str(len(failure.body) + 100)
        if failure.retry_after is not None:
            headers["Retry-After"] = failure.retry_after
        return failure.status, headers, failure.body

    def _csv(self, series_id: str, cosd: str | None) -> bytes:
        lines = [f"{self.header},{series_id}"]
        lines += [
            f"{day},{cell}" for day, cell in self.series[series_id] if not cosd or day >= cosd
        ]
        return ("\n".join(lines) + "\n").encode()


def _handler(fake: FakeFred) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/graph/fredgraph.csv":
                self._send(404, {"Content-Type": "text/html"}, NOT_FOUND_PAGE)
                return
            query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
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
                pass  # the client gave up (timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def serve_fred(fake: FakeFred | None = None) -> Iterator[FakeFred]:
    """Run the fake on a free port; `fake.url` is the fredgraph.csv URL to configure."""
    fake = fake or FakeFred()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}/graph/fredgraph.csv"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
