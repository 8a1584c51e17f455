"""The public port under a flood of idle connections (issue 21, item 1).

The port runs in a process of its own (`tests/fakes/port_server.py`) with the open-file limit
at 1,024, systemd's default. 1,100 connections from 127.0.0.1 open and say nothing; the door
keeps 64 of them (the per-address cap) and closes the rest at once, then closes the 64 when
their header deadline passes. Meanwhile a signed Discord request and `/healthz` from another
loopback address (127.0.0.2) are answered at once, and the log stays a few lines long.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from bot.service.web_door import Door, DoorLimits
from tests.conftest import PROJECT_ROOT

FLOOD = 1100
PER_ADDRESS = 64
HEADER_TIMEOUT = 6.0  # well above the time 1,100 connections take to open, even on a busy host


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


@pytest.fixture
def port_server(tmp_path: Path, key: SigningKey) -> Iterator[tuple[int, subprocess.Popen]]:
    env = {
        **os.environ,
        "ROTATION_DB": str(tmp_path / "rotation.db"),
        "ROTATION_HTTP_MAX_PER_ADDRESS": str(PER_ADDRESS),
        "ROTATION_HTTP_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
    }
    command = [
        sys.executable, "-m", "tests.fakes.port_server", "--db", str(tmp_path / "rotation.db"),
        "--public-key", key.verify_key.encode().hex(), "--nofile", "1024",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "the port server did not start"
        yield int(process.stdout.readline()), process
    finally:
        process.terminate()
        process.wait(10)


def open_idle(port: int, count: int) -> list[socket.socket]:
    """`count` connections from 127.0.0.1 that never send a byte."""
    sockets = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setblocking(False)
        sockets.append(sock)
    return sockets


def closed_by_server(sockets: list[socket.socket]) -> set[int]:
    """Which of `sockets` the server has closed (EOF or reset), by index."""
    closed = set()
    for index, sock in enumerate(sockets):
        try:
            if sock.recv(1) == b"":
                closed.add(index)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            closed.add(index)
    return closed


def ask(port: int, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """One request from 127.0.0.2: (status, body, seconds)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=5, source_address=("127.0.0.2", 0)
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read(), time.monotonic() - started
    finally:
        connection.close()


def signed_ping(key: SigningKey) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": "1", "application_id": "2", "type": 1, "token": "t"}).encode()
    stamp = str(int(time.time()))
    signature = key.sign(stamp.encode() + body).signature.hex()
    headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp}
    return body, {**headers, "Content-Type": "application/json"}


def wait_until_closed(sockets: list[socket.socket], count: int, within: float) -> int:
    deadline, closed = time.monotonic() + within, set()
    while time.monotonic() < deadline:
        closed |= closed_by_server(sockets)
        if len(closed) >= count:
            break
        time.sleep(0.1)
    return len(closed)


def test_idle_flood_from_one_address_leaves_signed_requests_and_healthz_answered(
    port_server: tuple[int, subprocess.Popen], key: SigningKey
) -> None:
    port, process = port_server
    started = time.monotonic()
    flood = open_idle(port, FLOOD)
    try:
        refused = wait_until_closed(flood, FLOOD - PER_ADDRESS, within=5)
        assert refused >= FLOOD - PER_ADDRESS  # never more than the cap left open
        if time.monotonic() - started < HEADER_TIMEOUT:  # else the deadline closed the 64 too
            assert refused == FLOOD - PER_ADDRESS  # the excess, and only the excess, at once
        body, headers = signed_ping(key)
        status, answer, seconds = ask(port, "POST", "/discord/interactions", body, headers)
        assert (status, json.loads(answer), seconds < 1) == (200, {"type": 1}, True)
        status, _, seconds = ask(port, "GET", "/healthz")
        assert status in (200, 503) and seconds < 2  # answered (a fresh database is degraded)
        # The kept ones never sent their headers: closed when the header deadline passed.
        assert wait_until_closed(flood, FLOOD, within=HEADER_TIMEOUT + 3) == FLOOD
        again = open_idle(port, PER_ADDRESS)  # the door counted them out
        assert closed_by_server(again) == set()
        for sock in again:
            sock.close()
    finally:
        for sock in flood:
            sock.close()
    process.terminate()
    _, errors = process.communicate(timeout=10)
    assert b"Traceback" not in errors
    assert len(errors) < 2000, errors.decode()  # a few lines, not one per connection


def test_the_total_cap_counts_every_address_and_stays_under_the_file_limit() -> None:
    door = Door(DoorLimits(max_connections=5, max_per_address=3))
    admitted = [door.admit(f"10.0.0.{n % 3}") for n in range(9)]
    assert admitted == [True] * 5 + [False] * 4
    door.leave("10.0.0.0")
    assert door.admit("10.0.0.9") and not door.admit("10.0.0.9")
    assert door.refused == 5
    huge = DoorLimits(max_connections=10**6)
    assert huge.total_cap() < 10**6  # never more than the open files this process may have
