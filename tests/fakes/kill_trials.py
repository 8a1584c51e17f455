"""Kill trials: a real sender process dies right after the platform accepted post N.

One trial queues `queued` alerts for one channel, starts `tests.fakes.deliver_once` as its
own process and lets the stand-in SIGKILL it right after accepting the bot's N-th post (before
the sender can record it). The stand-in then forgets its nonces (the restart comes after
Discord's nonce window), other people post `chatter` messages, and a restarted sender
delivers the rest. Every alert must be in the channel exactly once: the result counts
duplicates and losses. Used by tests/bot/test_kill_trials.py and bench/kill_trials.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.message import Notifier
from bot.delivery.sender import DeliveryPolicy, deliver_pending
from bot.delivery.slack import SlackBotNotifier
from storage.db import open_db
from storage.outbox import enqueue_alerts, list_outbox
from tests.fakes.delivery_kit import FakeClock, make_event
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DISCORD_CHANNEL = "123456789012345678"
Platform = Literal["discord", "slack"]
POLICY = DeliveryPolicy(max_age_hours=6.0, base_delay=2.0, lease_seconds=60.0, max_wait=600.0)


@dataclass(frozen=True)
class TrialResult:
    """What one trial found in the channel after the restart."""

    platform: Platform
    queued: int
    killed_at: int
    duplicates: int
    losses: int
    undelivered_rows: int
    seconds: float

    @property
    def clean(self) -> bool:
        """Every alert posted once and every row delivered."""
        return self.duplicates == 0 and self.losses == 0 and self.undelivered_rows == 0


def run_trial(
    platform: Platform, workdir: Path, *, queued: int = 150, kill_at: int = 120, chatter: int = 0
) -> TrialResult:
    """One kill trial on a fresh database under `workdir` and a fresh stand-in."""
    started = time.monotonic()
    fake: FakeDiscord | FakeSlack = FakeDiscord() if platform == "discord" else FakeSlack()
    fake.start()
    try:
        db_path = workdir / f"{platform}-{kill_at}-{time.monotonic_ns()}.db"
        keys = _queue(db_path, platform, queued)
        fake.kill_at_post = kill_at
        run_killed_sender(db_path, fake, _env(platform, fake))
        _after_the_nonce_window(fake, chatter)
        _restart(db_path, fake)
        posted = Counter(_posted_keys(fake))
        db = open_db(db_path)
        undelivered = sum(1 for row in list_outbox(db) if row["status"] != "delivered")
        db.close()
    finally:
        fake.stop()
    return TrialResult(
        platform,
        queued,
        kill_at,
        duplicates=sum(count - 1 for count in posted.values() if count > 1),
        losses=sum(1 for key in keys if posted[key] == 0),
        undelivered_rows=undelivered,
        seconds=time.monotonic() - started,
    )


def destination(platform: Platform) -> str:
    """The outbox destination of the trial channel."""
    return f"discord:{DISCORD_CHANNEL}" if platform == "discord" else f"slack:{CHANNEL_ID}"


def _queue(db_path: Path, platform: Platform, queued: int) -> list[str]:
    events = [make_event(rule=f"rule_{number:03d}") for number in range(queued)]
    db = open_db(db_path)
    enqueue_alerts(db, events, [destination(platform)])
    db.close()
    return [event.dedupe_key for event in events]


def _env(platform: Platform, fake: FakeDiscord | FakeSlack) -> dict[str, str]:
    if isinstance(fake, FakeDiscord):
        return {
            "DISCORD_BOT_TOKEN": fake.token,
            "DISCORD_CHANNEL_IDS": DISCORD_CHANNEL,
            "DISCORD_API_BASE": fake.api_base,
        }
    return {
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_CHANNEL": CHANNEL_ID,
        "SLACK_API_URL": fake.api_url,
    }


def run_killed_sender(
    db_path: Path, fake: FakeDiscord | FakeSlack, env: dict[str, str], *, pace: bool = False
) -> None:
    """Start the sender process, arm the stand-in to SIGKILL it, wait for it to die.

    `pace` keeps the sender's own pacing between posts (off: 150 queued posts in seconds).
    """
    full_env = {**os.environ, "ROTATION_DB": str(db_path), "PYTHONPATH": str(PROJECT_ROOT), **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.deliver_once", *([] if pace else ["--no-pace"])],
        cwd=PROJECT_ROOT,
        env=full_env,
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    fake.kill_pid = process.pid
    _, stderr = process.communicate(b"go\n", timeout=120)
    if process.returncode != -signal.SIGKILL:
        raise RuntimeError(f"the sender was not killed: {stderr.decode()[-2000:]}")


def _after_the_nonce_window(fake: FakeDiscord | FakeSlack, chatter: int) -> None:
    if isinstance(fake, FakeDiscord):
        fake.nonce_window = 0.0  # the restart comes too late for Discord's nonce to help
        fake.post_chatter(DISCORD_CHANNEL, chatter)
    else:
        fake.post_chatter(CHANNEL_ID, chatter)


def _restart(db_path: Path, fake: FakeDiscord | FakeSlack) -> None:
    """A new sender after the crashed one's claim expired, as the service's next start."""
    clock = FakeClock(datetime.now(UTC) + timedelta(minutes=2))
    db = open_db(db_path)

    def deliver(notifier: Notifier) -> None:
        deliver_pending(db, [notifier], now=clock.now, sleep=clock.sleep, policy=POLICY)

    try:
        if isinstance(fake, FakeDiscord):
            rest = DiscordRest(fake.token, api_base=fake.api_base)
            try:
                deliver(DiscordBotNotifier(rest, DISCORD_CHANNEL))
            finally:
                rest.close()
        else:
            deliver(SlackBotNotifier(fake.token, CHANNEL_ID, api_base=fake.api_url))
    finally:
        db.close()


def _posted_keys(fake: FakeDiscord | FakeSlack) -> list[str]:
    if isinstance(fake, FakeDiscord):
        footers = [m.embed["footer"]["text"] for m in fake.messages if m.via == "bot"]
        return [text.split("alert ", 1)[1] for text in footers]
    return [
        m.payload["metadata"]["event_payload"]["alert_key"] for m in fake.messages if m.via == "bot"
    ]
