"""Discord gateway mode under load: first-response times while charts queue (issue 21).

Usage: python bench/gateway_deadline.py [--spreads 200] [--others 200] [--burst 200] [--hold 4]

A `RotationClient` logged in to the local Discord stand-in receives INTERACTION_CREATE
payloads through its real connection state, as the gateway delivers them (no websocket: the
stand-in has none), so the real `CommandTree`, transformers and chart pool run and every
response goes over HTTP to the stand-in, which stamps when it arrives. A burst of `--spreads`
charted `/spread` from many users (two each: the per-user limit), then, while their charts are
drawn, `--others` `/subscriptions` at 20 a second. Prints p50/p95/max of the first responses
(what Discord's 3 s deadline is about), of the `/subscriptions` answers (their follow-ups) and
how long the charts took to drain. Then `--burst` `/subscribe` and `/subscriptions` at
once while another connection holds the database's write lock for `--hold` seconds (a long
import or delivery transaction): the writes wait for it in asyncio's default executor, and
every other thread job queues behind them. Goals: every first response within 3 s, p95 under
1 s. No network, no shared data. The stand-in runs in this process, so its threads share the
GIL with the bot: the times are upper bounds.
`bench/hostile_port.py` measures the same over HTTP mode.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes

from bot.chat.chart_pool import chart_pool
from bot.chat.core import Commands
from bot.chat.discord.client import RotationClient
from bot.config import load_settings
from bot.delivery.discord import configure_api_base
from storage.db import open_db
from storage.prices import upsert_bars
from tests.fakes.discord_interactions import FakeDiscordApp
from tests.fakes.discord_kit import (
    NOW,
    RULES,
    User,
    _command_data,
    daily_bars,
    interaction_payload,
)
from tests.fakes.httpfake import Request, Response


def summary(name: str, seconds: list[float]) -> str:
    """p50/p95/max in ms and how many took over Discord's 3 s (as `bench/hostile_port.py`)."""
    ordered = sorted(seconds)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    over = sum(s > 3.0 for s in ordered)
    ms = (1000 * statistics.median(ordered), 1000 * p95, 1000 * ordered[-1])
    return (
        f"{name:<36} n={len(ordered):<4} p50 {ms[0]:7.1f} ms  p95 {ms[1]:7.1f} ms  "
        f"max {ms[2]:7.1f} ms  over 3 s: {over}"
    )


class StampingDiscord(FakeDiscordApp):
    """The stand-in, noting when each interaction's first response and answer arrive."""

    def __init__(self) -> None:
        super().__init__()
        self.first_at: dict[str, float] = {}  # token -> monotonic time of the callback
        self.answer_at: dict[str, float] = {}  # token -> time of the first follow-up or edit

    def _respond(self, token: str, payload: dict[str, Any], files: dict[str, bytes]) -> Response:
        self.first_at.setdefault(token, time.monotonic())
        if payload.get("type") == 4:  # answered in the callback itself: that is the answer
            self.answer_at.setdefault(token, time.monotonic())
        return super()._respond(token, payload, files)

    def _webhook(self, request: Request, token: str, rest: list[str]) -> Response:
        response = super()._webhook(request, token, rest)
        self.answer_at.setdefault(token, time.monotonic())
        return response


class Load:
    """The client, the stand-in and when each interaction was handed to the client."""

    def __init__(self, client: RotationClient, fake: StampingDiscord) -> None:
        self.client, self.fake = client, fake
        self.sent: dict[str, float] = {}

    def dispatch(self, name: str, user: User, **options: str) -> str:
        interaction_id, token = self.fake.open_interaction(2)
        data = _command_data(name, options)
        self.sent[token] = time.monotonic()
        payload = interaction_payload(interaction_id, token, 2, data, user)
        self.client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        return token

    def first_times(self, tokens: list[str]) -> list[float]:
        return [self.fake.first_at.get(t, float("inf")) - self.sent[t] for t in tokens]

    def answer_times(self, tokens: list[str]) -> list[float]:
        return [self.fake.answer_at.get(t, float("inf")) - self.sent[t] for t in tokens]

    async def until_answered(self, tokens: list[str], limit: float) -> float:
        started = time.monotonic()
        for _ in range(int(limit / 0.05)):
            if all(t in self.fake.answer_at for t in tokens):
                break
            await asyncio.sleep(0.05)
        return time.monotonic() - started


def _told_to_wait(fake: StampingDiscord, token: str) -> bool:
    """A "Busy drawing" line: the first response is the whole answer."""
    steps = fake.steps_for(token)
    return bool(steps) and steps[0].name == "callback:4"


async def load_round(load: Load, spreads: int, others: int) -> None:
    """A burst of charted /spread, then /subscriptions at 20/s while the charts drain."""
    started = time.monotonic()
    charted = [load.dispatch("spread", User(f"{900 + n // 2}", "t"), a="IWC", b="SPY")
               for n in range(spreads)]  # fmt: skip
    await asyncio.sleep(0)
    queued_at_burst = sum(chart_pool().in_flight.values())
    plain = []
    for n in range(others):
        plain.append(load.dispatch("subscriptions", User(f"5{n:04d}", "o")))
        await asyncio.sleep(0.05)
    await load.until_answered(plain, 120)
    still = sum(chart_pool().in_flight.values())
    await load.until_answered(charted, 900)
    drained = time.monotonic() - started
    busy = sum(_told_to_wait(load.fake, t) for t in charted)
    print(f"gateway: a burst of {spreads} charted /spread, then {others} /subscriptions at 20/s")
    print(summary("  /spread first response", load.first_times(charted)))
    print(summary("  /subscriptions first response", load.first_times(plain)))
    print(summary("  /subscriptions answer", load.answer_times(plain)))
    print(
        f"  {queued_at_burst} charts queued after the burst, {still} still queued after the "
        f"/subscriptions; {busy} told to wait (per-user limit); charts drained in {drained:.1f} s"
    )


def hold_write_lock(db_path: Path, seconds: float, taken: threading.Event) -> None:
    """Hold the database's write lock, as a long import or delivery transaction would."""
    db = sqlite3.connect(db_path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        db.execute("ROLLBACK")
    finally:
        db.close()


async def burst_round(load: Load, count: int, db_path: Path, hold: float) -> None:
    """`count` /subscribe and /subscriptions at once while a writer holds the database."""
    taken = threading.Event()
    writer = threading.Thread(target=hold_write_lock, args=(db_path, hold, taken))
    writer.start()
    taken.wait(5)
    tokens = []
    for n in range(count):
        user = User(f"7{n:04d}", "b")
        tokens.append(load.dispatch("subscribe" if n % 2 else "subscriptions", user, id="all"))
    await load.until_answered(tokens, 120)
    writer.join()
    print(
        f"gateway: a burst of {count} /subscribe and /subscriptions at once, "
        f"a writer holding the database for {hold:.0f} s"
    )
    print(summary("  first response", load.first_times(tokens)))
    print(summary("  answer", load.answer_times(tokens)))


async def run(args: argparse.Namespace, workdir: Path) -> None:
    fake = StampingDiscord().start()
    db_path = workdir / "rotation.db"
    db = open_db(db_path)
    upsert_bars(db, daily_bars("IWC", 100.0, 0.3) + daily_bars("SPY", 500.0, 0.5))
    db.close()
    configure_api_base(fake.api_base)
    settings = load_settings(None)
    core = Commands.for_path(settings, db_path, rules=RULES, clock=lambda: NOW)
    try:
        async with RotationClient(core, settings, sync=False) as client:
            await client.login(fake.token)
            print(f"chart pool: {chart_pool().workers} worker(s), {chart_pool().per_user} per user")
            load = Load(client, fake)
            await load_round(load, args.spreads, args.others)
            await burst_round(load, args.burst, db_path, args.hold)
    finally:
        fake.stop()


def main() -> None:
    """Run the round and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spreads", type=int, default=200)
    parser.add_argument("--others", type=int, default=200)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--hold", type=float, default=4.0, help="seconds the writer holds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
