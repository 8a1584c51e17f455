"""What the file-download stand-ins (FRED, Stooq, the French library) share.

Each serves plain GETs on 127.0.0.1 from a handler whose only job is to pick an answer; the
server's life (free port, serving thread, shutdown) and the writing of an answer, a scripted
failure included (Retry-After, a slow answer, a body cut short of its Content-Length), are here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Failure:
    """One scripted bad answer: an HTTP status (with optional Retry-After) or a delay."""

    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    body: bytes = b"<html><body>Service Unavailable</body></html>"
    content_type: str = "text/html"
    truncate: bool = False  # promise more bytes than are sent, then hang up


def failure_reply(failure: Failure) -> Reply:
    """Status, headers and body of a scripted failure (after its delay, if any)."""
    if failure.delay:
        time.sleep(failure.delay)
    headers = {"Content-Type": failure.content_type}
    if failure.truncate:
        headers["Content-Length"] = str(len(failure.body) + 100)
    if failure.retry_after is not None:
        headers["Retry-After"] = failure.retry_after
    return failure.status, headers, failure.body


def send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
    """Write one answer; a client that already gave up (a timeout test) is no error."""
    status, headers, body = reply
    try:
        handler.send_response(status)
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        pass


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean (no access log lines)."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def query_handler(
    path: str, not_found: bytes, answer: Callable[[dict[str, str]], Reply]
) -> type[BaseHTTPRequestHandler]:
    """GETs of `path` answered from their query (last value of each key); others a 404 page."""

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != path:
                send(self, (404, {"Content-Type": "text/html"}, not_found))
                return
            send(self, answer({key: values[-1] for key, values in parse_qs(parts.query).items()}))

    return Handler


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[int]:
    """Serve `handler` on a free 127.0.0.1 port (yielded) until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
