"""A local stand-in for Yahoo Finance on 127.0.0.1 that the real yfinance code talks to.

The seam: yfinance's `session=` argument. `YahooSession(base_url)` (a `curl_cffi.requests.Session`,
also what production uses, see ROTATION_YAHOO_URL) rewrites every `https://<host>.yahoo.com/<path>`
to `http://127.0.0.1:<port>/<host>.yahoo.com/<path>`; the server reads the original host from
the first path segment. It serves what yfinance requests: the cookie (fc.yahoo.com), the crumb
(`/v1/test/getcrumb`), the consent page (guce.yahoo.com), `v8/finance/chart/<symbol>` in the
real wire format, and for `.info` `v10/finance/quoteSummary/<symbol>`, `v7/finance/quote` and
the fundamentals timeseries. `reset_yfinance` forgets yfinance's process-wide state (the
`YfData` singleton with its cookie, crumb and session, its response memo, the on-disk
timezone and cookie caches) so each test starts like a fresh process.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yfinance.base
import yfinance.cache
from yfinance.data import SingletonMeta, YfData

from bot.sources.yahoo import YahooSession

DATA = Path(__file__).resolve().parent.parent / "data" / "yahoo"

NOT_FOUND = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}
SUMMARY_NOT_FOUND = {
    "quoteSummary": {
        "result": None,
        "error": {"code": "Not Found", "description": "Quote not found for symbol"},
    }
}
HANG = "hang"  # a scripted failure: answer only after the client has timed out
OK = "ok"  # in a failure script: answer this request normally


def load_chart(path: Path) -> dict[str, Any]:
    """A recorded chart body: raw, or under `response.bodyJson` / `response.body`."""
    data = json.loads(path.read_text())
    if "response" not in data:
        return data
    response = data["response"]
    body = response.get("bodyJson", response.get("body"))
    return json.loads(body) if isinstance(body, str) else body


def chart_symbol(body: dict[str, Any]) -> str:
    """The symbol a chart body is about."""
    return body["chart"]["result"][0]["meta"]["symbol"]


def slice_chart(body: dict[str, Any], start: int | None, end: int | None) -> dict[str, Any]:
    """The chart body restricted to start <= timestamp < end, as Yahoo answers a period."""
    body = copy.deepcopy(body)
    result = body["chart"]["result"][0]
    stamps = result.get("timestamp", [])
    keep = [
        i
        for i, t in enumerate(stamps)
        if (start is None or t >= start) and (end is None or t < end)
    ]
    if not keep:
        result.pop("timestamp", None)
        result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        result.pop("events", None)
        return body
    result["timestamp"] = [stamps[i] for i in keep]
    for block in result["indicators"].values():
        for series in block:
            for key, values in series.items():
                series[key] = [values[i] for i in keep]
    for kind, events in (result.get("events") or {}).items():
        result["events"][kind] = {
            k: v for k, v in events.items() if (start or 0) <= int(k) < (end or 2**40)
        }
    return body


def last_bar(body: dict[str, Any]) -> dict[str, Any]:
    """What Yahoo answers to `range=1d`: the metadata and the latest bar."""
    stamps = body["chart"]["result"][0].get("timestamp") or [0]
    return slice_chart(body, stamps[-1], None)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the scenario, not an error


class FakeYahoo:
    """The server: charts and P/E per symbol, plus scripted failures per symbol."""

    def __init__(self) -> None:
        self.charts: dict[str, dict[str, Any]] = {}
        self.pe: dict[str, float | None] = {}
        self.failures: dict[str, list[int | str]] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        """Where the fake listens."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def add_chart(self, body: dict[str, Any]) -> str:
        """Serve this chart body (full history) for its symbol; return the symbol."""
        symbol = chart_symbol(body)
        self.charts[symbol.upper()] = body
        return symbol

    def add_fixture(self, path: Path) -> str:
        """Serve a recorded or hand-made chart file; return its symbol."""
        return self.add_chart(load_chart(path))

    def fail(self, symbol: str, *statuses: int | str) -> None:
        """Answer the next chart requests for `symbol` with these statuses, HANG or OK."""
        self.failures.setdefault(symbol.upper(), []).extend(statuses)

    def chart_requests(self, symbol: str) -> int:
        """How many chart requests the fake received for `symbol`."""
        return sum(1 for path in self.requests if f"/v8/finance/chart/{symbol}" in path)

    def next_failure(self, symbol: str) -> int | str | None:
        """Pop the next scripted failure for a symbol, if any."""
        with self.lock:
            queue = self.failures.get(symbol.upper())
            return queue.pop(0) if queue else None

    def session(self) -> YahooSession:
        """Our curl_cffi session, routed so that its Yahoo requests land on this fake."""
        return YahooSession(self.base_url)

    def __enter__(self) -> FakeYahoo:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler_for(fake: FakeYahoo) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            with fake.lock:
                fake.requests.append(self.path)
            _, host, rest = self.path.split("/", 2)
            parts = urlsplit("/" + rest)
            route(fake, self, host, unquote(parts.path), parse_qs(parts.query))

        do_POST = do_GET

    return Handler


def route(fake: FakeYahoo, out: BaseHTTPRequestHandler, host: str, path: str, query: dict) -> None:
    """Answer one request the way Yahoo would."""
    if host == "fc.yahoo.com":
        send(out, 404, "text/html", b"<html>not here</html>", cookie="A3=d=fake; Path=/")
    elif path == "/v1/test/getcrumb":
        send(out, 200, "text/plain", b"fake-crumb")
    elif host.endswith("consent.yahoo.com") or host == "guce.yahoo.com":
        send(out, 200, "text/html", b"<html><body>no consent form here</body></html>")
    elif path.startswith("/v8/finance/chart/"):
        serve_chart(fake, out, path.removeprefix("/v8/finance/chart/").upper(), query)
    elif path.startswith("/v10/finance/quoteSummary/"):
        serve_summary(fake, out, path.removeprefix("/v10/finance/quoteSummary/").upper())
    elif path == "/v7/finance/quote":
        symbol = query.get("symbols", [""])[0].upper()
        found = [{"symbol": symbol, "trailingPE": fake.pe[symbol]}] if symbol in fake.pe else []
        send_json(out, 200, {"quoteResponse": {"result": found, "error": None}})
    elif "/fundamentals-timeseries/" in path:
        send_json(out, 200, {"timeseries": {"result": [], "error": None}})
    else:
        send_json(out, 404, {"finance": {"result": None, "error": {"code": "Not Found"}}})


def serve_chart(fake: FakeYahoo, out: BaseHTTPRequestHandler, symbol: str, query: dict) -> None:
    """The v8 chart endpoint, scripted failures first."""
    failure = fake.next_failure(symbol)
    if failure == OK:
        failure = None
    elif failure == HANG:
        threading.Event().wait(1.0)
        failure = 504
    if failure == 429:
        send(out, 429, "text/plain", b"Too Many Requests\r\n")
    elif isinstance(failure, int):
        error = {"code": "Internal Server Error", "description": f"HTTP {failure}"}
        send_json(out, failure, {"chart": {"result": None, "error": error}})
    elif symbol not in fake.charts:
        send_json(out, 404, NOT_FOUND)
    elif "range" in query:
        send_json(out, 200, last_bar(fake.charts[symbol]))
    else:
        start, end = (int(query[k][0]) if k in query else None for k in ("period1", "period2"))
        send_json(out, 200, slice_chart(fake.charts[symbol], start, end))


def serve_summary(fake: FakeYahoo, out: BaseHTTPRequestHandler, symbol: str) -> None:
    """The quoteSummary endpoint behind `Ticker.info` (summaryDetail carries trailingPE).

    Scripted failures for it are queued under `summary:<SYMBOL>`.
    """
    failure = fake.next_failure(f"summary:{symbol}")
    if failure == 429:
        send(out, 429, "text/plain", b"Too Many Requests\r\n")
        return
    if isinstance(failure, int):
        send_json(out, failure, {"finance": {"result": None, "error": {"code": "error"}}})
        return
    if symbol not in fake.pe and symbol not in fake.charts:
        send_json(out, 404, SUMMARY_NOT_FOUND)
        return
    detail = {} if fake.pe.get(symbol) is None else {"trailingPE": fake.pe[symbol]}
    result = {"summaryDetail": detail, "quoteType": {"symbol": symbol, "quoteType": "ETF"}}
    send_json(out, 200, {"quoteSummary": {"result": [result], "error": None}})


def send_json(out: BaseHTTPRequestHandler, status: int, body: object) -> None:
    """A JSON answer."""
    send(out, status, "application/json;charset=utf-8", json.dumps(body).encode())


def send(
    out: BaseHTTPRequestHandler, status: int, kind: str, body: bytes, cookie: str | None = None
) -> None:
    """Write status, headers and body."""
    out.send_response(status)
    out.send_header("Content-Type", kind)
    out.send_header("Content-Length", str(len(body)))
    if cookie:
        out.send_header("Set-Cookie", cookie)
    out.end_headers()
    out.wfile.write(body)


def reset_yfinance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make yfinance forget process-wide state so each test starts like a fresh process."""
    SingletonMeta._instances.pop(YfData, None)  # cookie, crumb, strategy and session
    YfData.cache_get.cache_clear()  # memoised responses
    monkeypatch.setattr(yfinance.cache._TzCacheManager, "_tz_cache", yfinance.cache._TzCacheDummy())
    monkeypatch.setattr(
        yfinance.cache._CookieCacheManager, "_Cookie_cache", yfinance.cache._CookieCacheDummy()
    )
    monkeypatch.setattr(yfinance.base, "_tz_info_fetch_ctr", 0)


def start_fake_yahoo(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYahoo]:
    """Body of a fixture: reset yfinance, run the fake, stop it afterwards."""
    reset_yfinance(monkeypatch)
    with FakeYahoo() as fake:
        yield fake
    SingletonMeta._instances.pop(YfData, None)  # never leave a session pointing at a dead port
