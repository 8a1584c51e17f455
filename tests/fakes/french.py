"""A local stand-in for the Kenneth R. French Data Library's file downloads on 127.0.0.1.

The library serves each file as a static zip (`ken.french/ftp/<name>_CSV.zip`,
`application/x-zip-compressed`); an unknown path is a 404 HTML page. Tests script what the
next answers are first (`fail_next`): a status with Retry-After, an HTML page with 200, a body
cut short of its Content-Length (the connection drops), or a different body.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.fakes.file_server import QuietHandler, Reply, send, serving

PATH = "/ken.french/ftp/25_Portfolios_5x5_CSV.zip"
NOT_FOUND_PAGE = b"""<!DOCTYPE html>
<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>
"""


@dataclass
class Answer:
    """One scripted answer: status, body, content type, Retry-After, a dropped connection."""

    status: int = 503
    body: bytes = b"<html><body>Service Unavailable</body></html>"
    content_type: str = "text/html"
    retry_after: str | None = None
    truncate: bool = False  # promise more bytes than are sent, then hang up


@dataclass
class FakeFrench:
    """The fake's state: the zip it serves, scripted answers, paths requested."""

    zip_bytes: bytes = b""
    scripted: deque[Answer] = field(default_factory=deque)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def fail_next(self, *answers: Answer) -> None:
        """Answer the next requests with these, in order."""
        self.scripted.extend(answers)

    def answer(self, path: str) -> Answer:
        """What to send for one request."""
        self.requests.append(path)
        if self.scripted:
            return self.scripted.popleft()
        if path != PATH:
            return Answer(404, NOT_FOUND_PAGE)
        return Answer(200, self.zip_bytes, "application/x-zip-compressed")


def _handler(fake: FakeFrench) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            answer = fake.answer(urlsplit(self.path).path)
            send(self, _reply(answer))
            if answer.truncate:
                self.close_connection = True

    return Handler


@contextmanager
def serve_french(fake: FakeFrench) -> Iterator[FakeFrench]:
    """Run the fake on a free port; `fake.url` is the zip's URL to configure."""
    with serving(_handler(fake)) as port:
        fake.url = f"http://127.0.0.1:{port}{PATH}"
        yield fake


def _reply(answer: Answer) -> Reply:
    headers = {"Content-Type": answer.content_type}
    headers["Content-Length"] = str(len(answer.body) + (100 if answer.truncate else 0))
    if answer.retry_after is not None:
        headers["Retry-After"] = answer.retry_after
    return answer.status, headers, answer.body
