"""HA delivery trials: three sender processes on one PostgreSQL, one killed, one frozen.

One trial queues `queued` alerts for two Discord channels and a Slack channel in a fresh
PostgreSQL database and starts three `tests.fakes.deliver_once` processes (real discord.py and
slack_sdk clients against the stand-ins). When the Discord stand-in has accepted its
`kill_at`-th post it SIGKILLs the process that sent it before answering (accepted, never
recorded); when the Slack stand-in has accepted its `stop_at`-th post it SIGSTOPs the process
that sent it and answers, so that process wakes after its claim's lease, with the answer
waiting, while another sender has taken the row over. The trial resumes it with SIGCONT after
`lease * 2` seconds and waits for the survivors to drain the outbox.

Counted from what the stand-ins received, per channel in arrival order: duplicates (a key
posted twice), losses (a key never posted), order violations (a key arriving before one queued
earlier for the same channel), and rows not delivered. Discord's nonce is ignored (window 0) so
only the claim protocol and the crash lookup can prevent a duplicate. Used by
tests/bot/test_ha_delivery.py and bench/ha_trials.py.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from storage.db import open_db
from storage.outbox import enqueue_alerts, list_outbox
from tests.fakes.delivery_kit import make_event
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DISCORD_CHANNELS = ("123456789012345678", "223456789012345678")


@dataclass(frozen=True)
class HaResult:
    """What one trial found in the channels."""

    queued_rows: int
    killed: int  # pid SIGKILLed (0: none)
    stopped: int  # pid SIGSTOPped then resumed (0: none)
    duplicates: int
    losses: int
    order_violations: int
    undelivered_rows: int
    seconds: float

    @property
    def clean(self) -> bool:
        """Every alert posted once, in order, and every row delivered."""
        return not (self.duplicates or self.losses or self.order_violations)


def destinations() -> list[str]:
    """The outbox destinations of a trial: two Discord channels and the Slack channel."""
    return [*(f"discord:{c}" for c in DISCORD_CHANNELS), f"slack:{CHANNEL_ID}"]


def run_ha_trial(
    url: str,
    *,
    queued: int = 60,
    kill_at: int = 30,
    stop_at: int = 15,
    lease: float = 4.0,
    senders: int = 3,
    timeout: float = 120.0,
) -> HaResult:
    """One trial on the fresh PostgreSQL database at `url` (migrated by `open_db`)."""
    started = time.monotonic()
    keys = _queue(url, queued)
    discord, slack = FakeDiscord(nonce_window=0.0), FakeSlack()
    discord.start()
    slack.start()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes = _start_senders(url, discord, slack, lease, senders)
        pids = [p.pid for p in processes]
        killed = _Signal(pids, signal.SIGKILL, kill_at)
        stopped = _Signal(pids, signal.SIGSTOP, stop_at)
        discord.on_accept, slack.on_accept = killed.on_post, stopped.on_post
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
            process.stdin.close()
        _resume_after(stopped, lease * 2, processes, timeout)
        _wait_all(processes, timeout)
        arrivals = {
            **{f"discord:{c}": discord.arrivals(c) for c in DISCORD_CHANNELS},
            f"slack:{CHANNEL_ID}": slack.arrivals(),
        }
    finally:
        _stop_all(processes)
        discord.stop()
        slack.stop()
    return _count(url, keys, arrivals, killed.pid, stopped.pid, time.monotonic() - started)


class _Signal:
    """Signals the process that sent the stand-in's `at`-th post, once, then answers or not."""

    def __init__(self, pids: list[int], signum: int, at: int) -> None:
        self.pids, self.signum, self.at = pids, signum, at
        self.posts, self.pid = 0, 0

    def on_post(self, peer_port: int) -> bool:
        """The stand-in's hook; False (answer nothing) when the sender was just killed."""
        self.posts += 1
        if self.pid or not self.at or self.posts < self.at:
            return True
        self.pid = pid_of_peer(peer_port, self.pids)
        if self.pid:
            os.kill(self.pid, self.signum)
        return self.signum != signal.SIGKILL or not self.pid


def pid_of_peer(port: int, pids: list[int]) -> int:
    """Which of `pids` owns the local TCP socket on `port` (Linux /proc), 0 if none."""
    inodes = _socket_inodes(port)
    for pid in pids:
        try:
            links = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
        except OSError:
            continue
        if any(f"socket:[{inode}]" in links for inode in inodes):
            return pid
    return 0


def _socket_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    return inodes


def _queue(url: str, queued: int) -> list[str]:
    events = [make_event(rule=f"rule_{number:04d}") for number in range(queued)]
    db = open_db(url)
    enqueue_alerts(db, events, destinations())
    db.close()
    return [event.dedupe_key for event in events]


def _start_senders(
    url: str, discord: FakeDiscord, slack: FakeSlack, lease: float, count: int
) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "ROTATION_DB": url,
        "DELIVERY_LEASE_SECONDS": str(lease),
        "DELIVERY_MAX_WAIT_SECONDS": "60",
        "DISCORD_BOT_TOKEN": discord.token,
        "DISCORD_CHANNEL_IDS": ",".join(DISCORD_CHANNELS),
        "DISCORD_API_BASE": discord.api_base,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_CHANNEL": CHANNEL_ID,
        "SLACK_API_URL": slack.api_url,
    }
    # HA_SENDER_LOG=FILE keeps the senders' logs (who lost which claim) for a look afterwards.
    log = open(os.environ["HA_SENDER_LOG"], "ab") if "HA_SENDER_LOG" in os.environ else None
    return [
        subprocess.Popen(
            [sys.executable, "-m", "tests.fakes.deliver_once", "--no-pace"],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=log or subprocess.DEVNULL,
        )
        for _ in range(count)
    ]


def _resume_after(
    stopped: _Signal, seconds: float, processes: list[subprocess.Popen[bytes]], timeout: float
) -> None:
    """SIGCONT the frozen sender `seconds` after it froze (longer than its lease)."""
    deadline = time.monotonic() + timeout
    while not stopped.pid and time.monotonic() < deadline:
        if all(p.poll() is not None for p in processes):
            return  # everything was sent before the stand-in's N-th post: nothing froze
        time.sleep(0.02)
    if stopped.pid:
        time.sleep(seconds)
        os.kill(stopped.pid, signal.SIGCONT)


def _wait_all(processes: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for process in processes:
        process.wait(timeout=max(deadline - time.monotonic(), 0.1))


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
            process.wait(timeout=10)


def _count(
    url: str,
    keys: list[str],
    arrivals: dict[str, list[str]],
    killed: int,
    stopped: int,
    seconds: float,
) -> HaResult:
    db = open_db(url)
    rows = list_outbox(db)
    db.close()
    duplicates = losses = violations = 0
    rank = {key: number for number, key in enumerate(keys)}
    for posted in arrivals.values():
        counts = Counter(posted)
        duplicates += sum(count - 1 for count in counts.values())
        losses += sum(1 for key in keys if counts[key] == 0)
        firsts = [rank[key] for key in dict.fromkeys(posted)]
        violations += sum(1 for a, b in itertools.pairwise(firsts) if b < a)
    return HaResult(
        queued_rows=len(rows),
        killed=killed,
        stopped=stopped,
        duplicates=duplicates,
        losses=losses,
        order_violations=violations,
        undelivered_rows=sum(1 for row in rows if row["status"] != "delivered"),
        seconds=seconds,
    )
