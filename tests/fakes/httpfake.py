"""Shared plumbing for the local fake platform servers: a threaded HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


class Request:
    """One parsed request: method, path, query, headers, raw body."""

    def __init__(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        self.method = method
        self.path = parts.path
        self.query = dict(parse_qsl(parts.query))
        self.headers = handler.headers
        self.peer_port = int(handler.client_address[1])  # which client process: see pid_of_peer
        length = int(handler.headers.get("Content-Length") or 0)
        self.body = handler.rfile.read(length) if length else b""

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip()

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    def multipart(self) -> dict[str, tuple[str | None, bytes]]:
        """Parts by field name: (filename, bytes)."""
        head = f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        parts = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            parts[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
        return parts


class Response:
    """What the fake answers."""

    def __init__(
        self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        self.status, self.body, self.headers = status, body, dict(headers or {})


class BurstServer(ThreadingHTTPServer):
    """A threading server whose listen backlog takes a burst, as the platforms' front ends do.

    With the default backlog of 5, a burst of a dozen new connections (discord.py's answers
    to a dozen interactions at once) has its excess SYNs dropped and retried after 1 s.
    """

    request_queue_size = 128


class FakeServer:
    """A ThreadingHTTPServer on 127.0.0.1 that hands each request to `handle(request)`."""

    def __init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body are written separately: without TCP_NODELAY each answer on a
            # kept-alive connection waits ~40 ms for the client's delayed ACK (Nagle).
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self, method: str) -> None:
                request = Request(self, method)
                if fake.down_status is not None:  # an outage: every request fails the same way
                    fake.failed_in_outage += 1
                    fake.write(self, _outage_response(fake.down_status))
                    return
                response = fake.handle(request)
                if response is None:  # the handler killed the client: answer nothing
                    if fake.hold_unanswered is not None:  # or a lost answer: hang (no lock held)
                        fake.hold_unanswered.wait(60)
                    self.close_connection = True
                    return
                fake.write(self, response)

            def do_GET(self) -> None:
                self._any("GET")

            def do_POST(self) -> None:
                self._any("POST")

            def do_PUT(self) -> None:
                self._any("PUT")

            def do_PATCH(self) -> None:
                self._any("PATCH")

            def do_DELETE(self) -> None:
                self._any("DELETE")

        self.down_status: int | None = None  # set: answer every request with this status
        # A request the handler answers with nothing (None) hangs until this is set, instead
        # of closing at once: the platform accepted it and its answer never comes.
        self.hold_unanswered: threading.Event | None = None
        self.failed_in_outage = 0
        self._handler = Handler
        self.server = BurstServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        self._thread = self._serving_thread()

    def _serving_thread(self) -> threading.Thread:
        return threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def go_down(self) -> None:
        """Stop listening: clients now get 'connection refused' on the same port."""
        self.stop()

    def come_back(self) -> None:
        """Listen again on the same port (an outage ends)."""
        self.server = BurstServer(("127.0.0.1", self.port), self._handler)
        self.server.daemon_threads = True
        self._thread = self._serving_thread()
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request: Request) -> Response | None:
        raise NotImplementedError

    @staticmethod
    def write(handler: BaseHTTPRequestHandler, response: Response) -> None:
        if response.status == 204:  # No Content: a body would break the client's parsing
            data, ctype = b"", "text/plain"
        elif isinstance(response.body, (bytes, str)):
            data = response.body.encode() if isinstance(response.body, str) else response.body
            ctype = "text/plain; charset=utf-8"
        else:
            data = json.dumps(response.body).encode()
            ctype = "application/json"
        try:
            handler.send_response(response.status)
            handler.send_header("Content-Type", response.headers.pop("Content-Type", ctype))
            handler.send_header("Content-Length", str(len(data)))
            for name, value in response.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _outage_response(status: int) -> Response:
    return Response(status, {"message": f"{status}: Service Unavailable", "code": 0})
