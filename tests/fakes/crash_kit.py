"""Kill `rotation-bot check --deliver` or `run` at a named commit point, restart it, count posts.

Shared by `tests/bot/test_crash_points.py` (a representative set) and `bench/crash_points.py`
(every point, both engines, both commands, several trials). A trial copies a primed database
(SQLite file or PostgreSQL database), runs the real command in a subprocess with
`ROTATION_TEST_CRASH_AT=<point>:<n>` (bot/crash_points.py: the process SIGKILLs itself there),
then runs it again without, and compares what the Discord stand-in received in the trial's own
channel with what an uninterrupted run posts: lost, repeated, out of order (goal 0, 0, 0).
Discord's nonce window is 0, so a post made before the kill is found only by the sender's
own look-up, never absorbed by the platform.

`run` is `tests.fakes.ha_replica` (`rotation-bot run`'s composition on a frozen clock, no
fetching): its catch-up evaluates the sessions after the last one on record, one at a time.
`run-fetching` is the same replica with `--fetch`, on a template primed by
`prepare_fetch_template` (no bar after DAYS[2] stored): each evaluation first refreshes the
prices from a Yahoo stand-in (`start_yahoo`: the real yfinance, chart bodies from the kit's
bars), so the bars that fire arrive by the refresh and the `prices` point is passed.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from storage import service_state
from storage.db import open_db
from storage.outbox_health import count_open
from storage.owed_alerts import count_owed
from tests.bot.test_signal_cli import DAYS, DISABLE_DEFAULTS, fill
from tests.corruptions import chart_from_csv
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.ha_kit import PROJECT_ROOT, copy_database
from tests.fakes.yahoo import FakeYahoo
from tests.pg_cluster import Cluster as PgCluster

NOW = datetime(2025, 1, 8, 22, 0, tzinfo=UTC)  # the evening of DAYS[-1], after the close
SYMBOLS = ("A", "B", "C")
# Closes from DAYS[3] on: seven new highs over five sessions (rules primed on DAYS[:3]).
CLOSES = {"A": [3, 2, 4, 3, 5], "B": [2, 4, 3, 5, 6], "C": [4, 3, 5, 6, 6]}
COMMANDS = ("check", "run")
# The points each command passes (`prices` needs a fetch: only `run-fetching` passes it).
POINTS = ("evaluated", "recorded", "drawn", "queued", "claimed", "posted", "delivered")
FETCH_POINTS = ("prices",)
# The fetching trials' bars sit near 100: moves of a few percent, none suspect to the
# refresh's quality checks (a 100 % jump would be held back, and rightly so).
FETCH_BASE = 100.0
_channels = itertools.count(900_000_001)


@dataclass
class Outcome:
    """One trial: whether the kill happened, and what the channel received against the goal."""

    killed: bool
    lost: int
    repeated: int
    out_of_order: bool
    received: list[str]


def rules_text() -> str:
    """A new-high rule per symbol (the default rules disabled)."""
    rules = (
        f'[[rules]]\nid = "{s.lower()}-high"\ntype = "new_high"\nsymbol = "{s}"\n'
        "min_history = 2\nhysteresis = 0\n\n"
        for s in SYMBOLS
    )
    return DISABLE_DEFAULTS + "".join(rules)


def base_env(folder: Path, fake: FakeDiscord) -> dict[str, str]:
    """Settings of every trial: the rules, the Discord stand-in, short leases."""
    rules = folder / "rules.toml"
    rules.write_text(rules_text(), encoding="utf-8")
    return {
        "PYTHONPATH": str(PROJECT_ROOT),
        "ROTATION_RULES": str(rules),
        "ROTATION_CATCHUP_ALERT_DAYS": "3650",  # the bars are from 2025
        "DISCORD_BOT_TOKEN": fake.token,
        "DISCORD_API_BASE": fake.api_base,
        "DELIVERY_LEASE_SECONDS": "2",  # a claim left by the kill frees up soon
        "DELIVERY_BASE_DELAY_SECONDS": "0.1",
        "ROTATION_DIGEST_TIME": "23:59",
    }


def prepare_template(target: str, env: dict[str, str]) -> None:
    """Prime the rules on DAYS[:3] (nothing owed), then store the bars that fire."""
    for symbol in SYMBOLS:
        fill(target, symbol, [1, 2, 1])  # type: ignore[arg-type]
    done = _cli(target, env, "check")
    assert done.returncode == 1, done.stderr  # the 2025 bars are STALE today: exit 1
    for symbol in SYMBOLS:
        fill(target, symbol, CLOSES[symbol], start=3)  # type: ignore[arg-type]
    _record_evaluated(target, DAYS[2])  # `run` catches up from here, as after a check of it


def prepare_fetch_template(target: str, env: dict[str, str]) -> None:
    """Prime the rules on DAYS[:3] near FETCH_BASE; the bars that fire come from Yahoo later."""
    for symbol in SYMBOLS:
        fill(target, symbol, [FETCH_BASE + c for c in (1, 2, 1)])  # type: ignore[arg-type]
    done = _cli(target, env, "check")
    assert done.returncode == 1, done.stderr  # the 2025 bars are STALE today: exit 1
    _record_evaluated(target, DAYS[2])


def start_yahoo(folder: Path) -> FakeYahoo:
    """A running Yahoo stand-in serving every symbol's bars over DAYS (stop it with __exit__)."""
    fake = FakeYahoo().__enter__()
    for symbol in SYMBOLS:
        closes = [FETCH_BASE + c for c in (1, 2, 1, *CLOSES[symbol])]
        fake.add_chart(chart_from_csv(_bars_csv(folder, symbol, closes), symbol, DAYS[0], DAYS[-1]))
    return fake


def fetch_env(env: dict[str, str], yahoo: FakeYahoo, folder: Path) -> dict[str, str]:
    """`env` with the Yahoo stand-in as the price source (yfinance's caches in `folder`)."""
    return {**env, "ROTATION_YAHOO_URL": yahoo.base_url, "XDG_CACHE_HOME": str(folder)}


def _bars_csv(folder: Path, symbol: str, closes: list[float]) -> Path:
    path = folder / f"yahoo-{symbol}.csv"
    rows = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    rows += [f"{day},{c},{c},{c},{c},{c},1000000" for day, c in zip(DAYS, closes, strict=True)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _record_evaluated(target: str, session: date) -> None:
    """Record an ok evaluation of `session`: `run` catches up from the session after it."""
    db = open_db(target)
    try:
        stamp = NOW.replace(year=2024, month=12, day=31)
        run = {"job": "evaluate", "session": session, "outcome": "ok"}
        service_state.record_run(db, {**run, "started_at": stamp, "finished_at": stamp})
    finally:
        db.close()


def copy_of(template: str, folder: Path, name: str, cluster: PgCluster | None = None) -> str:
    """A fresh copy of the primed database for one trial (a file, or a PostgreSQL database)."""
    if cluster is None:
        target = folder / f"{name}.db"
        shutil.copyfile(template, target)
        return str(target)
    copy_database(cluster.url("postgres"), urlsplit(template).path.lstrip("/"), name)
    return cluster.url(name)


def trial(
    command: str,
    target: str,
    env: dict[str, str],
    fake: FakeDiscord,
    crash: str | None,
    after_kill: Callable[[str], None] | None = None,
) -> Outcome:
    """Run `command` killed at `crash` (`<point>:<n>`, None: not killed), then again; count.

    `after_kill(target)`, if given, looks at the database between the kill and the restart.
    """
    channel = str(next(_channels))
    env = {**env, "DISCORD_CHANNEL_IDS": channel}
    killed = False
    if crash is not None:
        killed = _run(command, target, {**env, "ROTATION_TEST_CRASH_AT": crash}) == -signal.SIGKILL
    if after_kill is not None:
        after_kill(target)
    assert _run(command, target, env) == 0, f"{command} after the kill at {crash} did not finish"
    return _count(fake.arrivals(channel), expected(target), killed)


def expected(target: str) -> list[str]:
    """Every alert key on record that should have been posted, in recorded order."""
    db = open_db(target, migrate=False)
    try:
        rows = db.execute("SELECT dedupe_key FROM events ORDER BY id").fetchall()
    finally:
        db.close()
    return [row[0] for row in rows]


def _count(received: list[str], wanted: list[str], killed: bool) -> Outcome:
    first_seen = list(dict.fromkeys(received))
    lost = len(set(wanted) - set(received))
    repeated = len(received) - len(first_seen)
    in_order = [key for key in wanted if key in received] == first_seen
    return Outcome(killed, lost, repeated, not in_order, received)


def _run(command: str, target: str, env: dict[str, str]) -> int:
    """Exit code of one run: `check --deliver` to its end, `run` until its outbox is drained."""
    if command == "check":
        for _ in range(5):  # a claim left by the kill: this pass may end before its lease does
            code = _cli(target, env, "check", "--deliver").returncode
            if code != 1:
                return code
            time.sleep(0.5)
        return code
    return _service(target, env, fetch=command == "run-fetching")


def _cli(target: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from bot.cli import main; sys.exit(main())"
    argv = [sys.executable, "-c", code, "--db", target, *args]
    full = {**os.environ, **env}
    return subprocess.run(argv, env=full, capture_output=True, text=True, timeout=120, check=False)


def _service(target: str, env: dict[str, str], fetch: bool, timeout: float = 60.0) -> int:
    """Start a replica; -9 if it killed itself, 0 once everything is posted (then stopped)."""
    argv = [sys.executable, "-m", "tests.fakes.ha_replica", "--now", NOW.isoformat()]
    argv += ["--fetch"] if fetch else []
    full = {**os.environ, **env, "ROTATION_DB": target}
    process = subprocess.Popen(
        argv, cwd=PROJECT_ROOT, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return process.returncode
            if _caught_up(target):
                process.send_signal(signal.SIGTERM)
                process.wait(30)
                return 0
            time.sleep(0.2)
        return -1
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _caught_up(target: str) -> bool:
    """The catch-up reached the last session and nothing is owed or open."""
    db = open_db(target, migrate=False)
    try:
        last = service_state.last_run(db, "evaluate")
        done = last is not None and str(last["session"]) == DAYS[-1].isoformat()
        return done and count_owed(db) == 0 and count_open(db) == 0
    finally:
        db.close()
