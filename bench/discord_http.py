"""Discord HTTP interactions: how long until Discord has its answer (it allows 3 s).

Usage: python bench/discord_http.py [--rounds N]   (default 30)

A real `RotationClient` logged in to the local Discord stand-in, the real endpoint on
127.0.0.1, and signed interactions: PING, /help (answered in the body), /spread (deferred in
the body, then the chart as a follow-up) and the Acknowledge button (deferred update, then an
edit). Prints p50, p95 and max of the HTTP answer time and, for /spread, of the follow-up.
Target: every HTTP answer under 3 s (p95 well under 1 s). No network, no shared data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes

from bot.chat.core import Commands
from bot.chat.discord.client import RotationClient
from bot.chat.discord.http_mode import INTERACTIONS_PATH, InteractionsEndpoint
from bot.config import load_settings
from bot.delivery.discord import DiscordBotNotifier, DiscordRest, configure_api_base
from bot.delivery.message import build_alert_message
from bot.service.web import mount
from storage.db import open_db
from storage.prices import upsert_bars
from tests.fakes.delivery_kit import PNG, make_event
from tests.fakes.discord_http_kit import DiscordFront, post, sign
from tests.fakes.discord_interactions import CHANNEL, FakeDiscordApp
from tests.fakes.discord_kit import ADMIN_ROLE, NOW, RULES, Harness, daily_bars


def _summary(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    ms = [1000 * statistics.median(ordered), 1000 * p95, 1000 * ordered[-1]]
    p50, p95, top = (f"{value:7.1f} ms" for value in ms)
    return f"{name:<22} n={len(ordered):<4} p50 {p50}  p95 {p95}  max {top}"


async def _run(rounds: int, workdir: Path) -> None:
    fake = FakeDiscordApp().start()
    configure_api_base(fake.api_base)
    db_path = workdir / "rotation.db"
    db = open_db(db_path)
    upsert_bars(db, daily_bars("IWC", 100.0, 0.3) + daily_bars("SPY", 500.0, 0.5))
    db.close()
    settings = load_settings(None, discord_admin_ids=(ADMIN_ROLE,))
    core = Commands.for_path(settings, db_path, rules=RULES, clock=lambda: NOW)
    rest = DiscordRest(fake.token, api_base=fake.api_base)
    async with RotationClient(core, settings) as client:
        await client.login(fake.token)
        front = DiscordFront(Harness(client, fake), None, "")  # type: ignore[arg-type]
        front.endpoint = InteractionsEndpoint(client, front.key.verify_key.encode().hex())
        routes = {("POST", INTERACTIONS_PATH): front.endpoint.handle}
        mounted = await mount("127.0.0.1", 0, routes)
        front.url = f"http://127.0.0.1:{mounted.port}{INTERACTIONS_PATH}"
        try:
            await _measure(front, rest, rounds)
        finally:
            await mounted.cleanup()
    await asyncio.to_thread(rest.close)
    fake.stop()


async def _measure(front: DiscordFront, rest: DiscordRest, rounds: int) -> None:
    ping = json.dumps({"id": "1", "application_id": "2", "type": 1, "token": "t"}).encode()
    times: dict[str, list[float]] = {}
    for index in range(rounds):
        stamp = str(int(time.time()))
        answer = await asyncio.to_thread(post, front.url, ping, sign(front.key, ping, stamp))
        times.setdefault("PING", []).append(answer.seconds)
        token = await front.command("help")
        times.setdefault("/help (body)", []).append(front.answers[token].seconds)
        started = time.monotonic()
        token = await front.command("spread", a="IWC", b="SPY")
        times.setdefault("/spread (defer)", []).append(front.answers[token].seconds)
        times.setdefault("/spread (chart done)", []).append(time.monotonic() - started)
        message = build_alert_message(make_event(kind="fired", rule=f"r{index}"), PNG)
        sent = await asyncio.to_thread(
            DiscordBotNotifier(rest, CHANNEL).send, message, idempotency_key=message.key
        )
        posted = front.fake.message_by_id(str(sent.message_id))
        custom_id = posted.payload["components"][0]["components"][0]["custom_id"]
        token = await front.press(custom_id, front.fake.message_json(posted))
        times.setdefault("Acknowledge (defer)", []).append(front.answers[token].seconds)
    for name, seconds in times.items():
        print(_summary(name, seconds))
    slowest = max(max(v) for k, v in times.items() if "done" not in k)
    print(f"slowest HTTP answer {1000 * slowest:.1f} ms (Discord's limit: 3000 ms)")


def main() -> None:
    """Run the rounds and print the latencies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(_run(args.rounds, Path(workdir)))


if __name__ == "__main__":
    main()
