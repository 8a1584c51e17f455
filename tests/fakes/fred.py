"""A local stand-in for FRED's CSV download (`fredgraph.csv?id=...&cosd=...`) on 127.0.0.1.

It speaks the real wire format: `observation_date,<ID>` (or the older `DATE,<ID>`) with `.` or
an empty cell for a missing observation, 404 with an HTML page for an unknown id, and whatever
failures a test scripts first (`fail_next`: 5xx, 429 with Retry-After, a slow answer).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.fakes.file_server import Failure, Reply, failure_reply, query_handler, serving

__all__ = ["NOT_FOUND_PAGE", "Failure", "FakeFred", "serve_fred"]

NOT_FOUND_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><title>Error - FRED | St. Louis Fed</title></head>
<body><h1>Error</h1><p>Series not found.</p></body></html>
"""


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

    def answer(self, query: dict[str, str]) -> Reply:
        """Status, headers and body for one request."""
        self.requests.append(query)
        series_id = query.get("id", "")
        pending = self.failures.get(series_id)
        if pending:
            return failure_reply(pending.popleft())
        if series_id in self.html_ok:
            return 200, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_PAGE
        if series_id.upper() not in self.series:
            return 404, {"Content-Type": "text/html; charset=utf-8"}, NOT_FOUND_PAGE
        return 200, {"Content-Type": "text/csv"}, self._csv(series_id.upper(), query.get("cosd"))

    def _csv(self, series_id: str, cosd: str | None) -> bytes:
        lines = [f"{self.header},{series_id}"]
        lines += [
            f"{day},{cell}" for day, cell in self.series[series_id] if not cosd or day >= cosd
        ]
        return ("\n".join(lines) + "\n").encode()


@contextmanager
def serve_fred(fake: FakeFred | None = None) -> Iterator[FakeFred]:
    """Run the fake on a free port; `fake.url` is the fredgraph.csv URL to configure."""
    fake = fake or FakeFred()
    with serving(query_handler("/graph/fredgraph.csv", NOT_FOUND_PAGE, fake.answer)) as port:
        fake.url = f"http://127.0.0.1:{port}/graph/fredgraph.csv"
        yield fake
