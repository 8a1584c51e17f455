"""The public port under hostile load: answer times while charts queue, log bytes per attack.

Usage: python bench/hostile_port.py [--spreads 200] [--others 200] [--hostile 300]

The real Discord endpoint (a `RotationClient` logged in to the local Discord stand-in), the
real bolt app (against the Slack stand-in) and `/metrics` on 127.0.0.1, one process, as
`rotation-bot run` serves them. For each platform: a burst of `--spreads` charted `/spread`
from many users (two each: the per-user limit), then, while their charts are drawn,
`--others` signed non-charted commands (`/subscriptions`) at 20 a second, and a `/metrics`
scrape every 100 ms throughout. Prints p50/p95/max of the initial answers (Discord: the HTTP
body; Slack: the ack), the scrape times, and how long the charts took to drain. Then
`--hostile` requests of each hostile kind (unsigned nested Slack body, malformed HTTP, wrongly
signed, signed deeply nested JSON) and the log bytes they cost.
The door's per-address cap is raised (Discord and Slack connect from many addresses; here
everything comes from 127.0.0.1). Goals: every initial answer within 3 s, p95 under 1 s; log
bytes bounded (one line per kind a minute), not growing with the number of requests. No
network, no shared data.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import io
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes

from nacl.signing import SigningKey

from bot.chat.chart_pool import chart_pool
from bot.chat.core import Commands
from bot.chat.discord.client import RotationClient
from bot.chat.discord.http_mode import INTERACTIONS_PATH, InteractionsEndpoint
from bot.chat.slack.app import build_slack_app, start_http
from bot.delivery.discord import configure_api_base
from bot.service.health import read_health
from bot.service.metrics import Metrics, MetricsServer
from bot.service.web import mount, set_limits
from bot.service.web_door import DoorLimits
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
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack
from tests.fakes.slack_bolt_kit import SECRET, slack_settings

SLACK_SIGNED = "application/x-www-form-urlencoded"


def summary(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    over = sum(s > 3.0 for s in ordered)
    ms = (1000 * statistics.median(ordered), 1000 * p95, 1000 * ordered[-1])
    return (
        f"{name:<34} n={len(ordered):<4} p50 {ms[0]:7.1f} ms  p95 {ms[1]:7.1f} ms  "
        f"max {ms[2]:7.1f} ms  over 3 s: {over}"
    )


class Bench:
    """The servers, the signing keys and one client session."""

    def __init__(self, workdir: Path) -> None:
        self.workdir, self.key = workdir, SigningKey.generate()
        self.discord_fake = FakeDiscordApp().start()
        self.slack_fake = FakeSlack().start()
        self.db_path = workdir / "rotation.db"
        db = open_db(self.db_path)
        upsert_bars(db, daily_bars("IWC", 100.0, 0.3) + daily_bars("SPY", 500.0, 0.5))
        db.close()

    async def timed(self, request: Awaitable[aiohttp.ClientResponse]) -> tuple[int, float, bytes]:
        started = time.monotonic()
        try:
            async with await request as answer:
                body = await answer.read()
        except aiohttp.ClientError:  # refused or cut off: counted as status 0
            return 0, time.monotonic() - started, b""
        return answer.status, time.monotonic() - started, body

    # Discord

    async def discord(self, name: str, user: User, **options: str) -> tuple[int, float]:
        interaction_id, token = self.discord_fake.open_interaction(2, over_http=True)
        data = _command_data(name, options)
        body = json.dumps(interaction_payload(interaction_id, token, 2, data, user)).encode()
        status, seconds, answer = await self.timed(
            self.session.post(self.discord_url, data=body, headers=self.signed_discord(body))
        )
        if status == 200:
            self.discord_fake.answer_over_http(token, json.loads(answer))
        return status, seconds

    def signed_discord(self, body: bytes) -> dict[str, str]:
        stamp = str(int(time.time()))
        signature = self.key.sign(stamp.encode() + body).signature.hex()
        return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": stamp}

    # Slack

    async def slack(self, command: str, text: str, user: str, n: int) -> tuple[int, float]:
        form = urlencode({
            "token": "legacy", "team_id": "T000", "team_domain": "desk",
            "channel_id": CHANNEL_ID, "channel_name": "alerts", "user_id": user,
            "user_name": user.lower(), "command": command, "text": text,
            "api_app_id": "A0ROTATION", "response_url": self.slack_fake.response_url(n),
            "trigger_id": f"{n}.1.x",
        }).encode()  # fmt: skip
        headers = {**signed_slack(form), "Content-Type": SLACK_SIGNED}
        status, seconds, _ = await self.timed(
            self.session.post(self.slack_url, data=form, headers=headers)
        )
        return status, seconds

    async def scrape(self, stop: asyncio.Event) -> list[float]:
        times = []
        while not stop.is_set():
            _, seconds, _ = await self.timed(self.session.get(self.metrics_url))
            times.append(seconds)
            await asyncio.sleep(0.1)
        return times


def signed_slack(body: bytes, secret: str = SECRET) -> dict[str, str]:
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), b"v0:%d:" % stamp + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": f"v0={digest}"}


async def load_round(bench: Bench, platform: str, spreads: int, others: int) -> None:
    """A burst of charted /spread, then other signed commands at 20/s while charts drain."""
    users = [f"{900 + n}" for n in range(spreads // 2 + 1)]
    stop = asyncio.Event()
    scraper = asyncio.create_task(bench.scrape(stop))
    pool = chart_pool()
    started = time.monotonic()
    if platform == "Discord":
        charted = [bench.discord("spread", User(users[n // 2], "t"), a="IWC", b="SPY")
                   for n in range(spreads)]  # fmt: skip
    else:
        charted = [bench.slack("/rot-spread", "IWC SPY ytd", f"U{users[n // 2]}", n)
                   for n in range(spreads)]  # fmt: skip
    spread_results = await asyncio.gather(*charted)
    burst = time.monotonic() - started
    queued = sum(pool.in_flight.values())
    plain = []
    for n in range(others):
        if platform == "Discord":
            plain.append(asyncio.create_task(bench.discord("subscriptions", User(f"5{n}", "o"))))
        else:
            request = bench.slack("/rot-subscriptions", "", f"U5{n:04d}", spreads + n)
            plain.append(asyncio.create_task(request))
        await asyncio.sleep(0.05)
    plain_results = await asyncio.gather(*plain)
    still = sum(pool.in_flight.values())
    while sum(pool.in_flight.values()) and time.monotonic() - started < 900:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    drained = time.monotonic() - started
    stop.set()
    scrapes = await scraper
    statuses = sorted({s for s, _ in spread_results + plain_results})
    print(f"{platform}: a burst of {spreads} charted /spread, then {others} /subscriptions at 20/s")
    print(summary(f"  {platform} /spread initial answer", [t for _, t in spread_results]))
    print(summary(f"  {platform} /subscriptions meanwhile", [t for _, t in plain_results]))
    print(summary("  /metrics scrape every 100 ms", scrapes))
    print(
        f"  HTTP {statuses}; burst answered in {burst:.1f} s with {queued} charts queued, "
        f"{still} still queued after the /subscriptions; charts drained in {drained:.1f} s"
    )


async def hostile_round(bench: Bench, count: int, log_bytes: io.StringIO) -> None:
    nested = "[" * 900
    port = bench.slack_port
    kinds = {
        "unsigned nested Slack body": lambda: bench.timed(bench.session.post(
            bench.slack_url, data=f"ssl_check=1&payload={nested}".encode(),
            headers={"Content-Type": SLACK_SIGNED})),
        "wrongly signed Discord": lambda: bench.timed(bench.session.post(
            bench.discord_url, data=b'{"type": 2}',
            headers={"X-Signature-Ed25519": "0" * 128, "X-Signature-Timestamp": "1"})),
        "signed nested Discord JSON": lambda: bench.timed(bench.session.post(
            bench.discord_url, data=f'{{"type": 2, "d": {nested}}}'.encode(),
            headers=bench.signed_discord(f'{{"type": 2, "d": {nested}}}'.encode()))),
        "malformed HTTP": lambda: malformed(port),
    }  # fmt: skip
    for name, attack in kinds.items():
        before = len(log_bytes.getvalue().encode())
        started = time.monotonic()
        for _ in range(count):
            await attack()
        spent = len(log_bytes.getvalue().encode()) - before
        rate = count / (time.monotonic() - started)
        print(
            f"  {name:<28} {count} requests ({rate:5.0f}/s): {spent:6d} log bytes, "
            f"{spent / count:6.1f} bytes per request"
        )


async def malformed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /slack/events HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
    await writer.drain()
    await reader.read(100)
    writer.close()


async def run(args: argparse.Namespace, workdir: Path) -> None:
    # Discord and Slack connect from many addresses; here all come from 127.0.0.1.
    set_limits(DoorLimits(max_connections=2000, max_per_address=2000))
    bench = Bench(workdir)
    configure_api_base(bench.discord_fake.api_base)
    settings = slack_settings(bench.slack_fake)
    discord_core = Commands.for_path(settings, bench.db_path, rules=RULES, clock=lambda: NOW)
    slack_core = Commands.for_path(settings, bench.db_path, rules=RULES, clock=lambda: NOW)
    log_bytes = io.StringIO()
    handler = logging.StreamHandler(log_bytes)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)
    async with RotationClient(discord_core, settings) as client:
        await client.login(bench.discord_fake.token)
        endpoint = InteractionsEndpoint(client, bench.key.verify_key.encode().hex())
        mounted = await mount("127.0.0.1", 0, {("POST", INTERACTIONS_PATH): endpoint.handle})
        bench.discord_url = f"http://127.0.0.1:{mounted.port}{INTERACTIONS_PATH}"
        app = build_slack_app(settings, slack_core)
        slack_mount, bench.slack_port = await start_http(app, "127.0.0.1", 0, signing_secret=SECRET)
        bench.slack_url = f"http://127.0.0.1:{bench.slack_port}/slack/events"

        async def health():  # type: ignore[no-untyped-def]
            return await asyncio.to_thread(read_health, bench.db_path, NOW, settings)

        metrics = MetricsServer(Metrics(), health, "127.0.0.1", 0)
        await metrics.start()
        bench.metrics_url = f"http://127.0.0.1:{metrics.port}/metrics"
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as bench.session:
            print(f"chart pool: {chart_pool().workers} worker(s), {chart_pool().per_user} per user")
            await load_round(bench, "Discord", args.spreads, args.others)
            await load_round(bench, "Slack", args.spreads, args.others)
            print(f"hostile requests, {args.hostile} of each kind:")
            await hostile_round(bench, args.hostile, log_bytes)
        await metrics.stop()
        await slack_mount.cleanup()
        await mounted.cleanup()
    bench.discord_fake.stop()
    bench.slack_fake.stop()


def main() -> None:
    """Run both rounds and print the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spreads", type=int, default=200)
    parser.add_argument("--others", type=int, default=200)
    parser.add_argument("--hostile", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(run(args, Path(workdir)))


if __name__ == "__main__":
    main()
