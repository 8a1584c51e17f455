"""Replicas pace their posts together: Discord's global limit belongs to the bot token."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.discord_limits import GLOBAL_BUCKET
from bot.delivery.sender import DeliveryPolicy, deliver_pending
from storage.db import open_db
from storage.outbox import enqueue_alerts, list_outbox
from storage.pacing import reserve_slot
from storage.stamps import utc_now
from tests.fakes.delivery_kit import FakeClock, make_event
from tests.fakes.discord_api import FakeDiscord

POLICY = DeliveryPolicy(max_wait=0)


def test_a_global_429_seen_by_one_replica_slows_the_other(
    db_path: Path, fake_discord: FakeDiscord
) -> None:
    """Replica A meets a global 429; replica B, posting next, waits it out before posting."""
    channel_a, channel_b = "111111111111111111", "222222222222222222"
    db = open_db(db_path)
    enqueue_alerts(db, [make_event(1)], [f"discord:{channel_a}"])
    enqueue_alerts(db, [make_event(2)], [f"discord:{channel_b}"])
    fake_discord.global_429s.append(0.5)
    rest_a = DiscordRest(fake_discord.token, api_base=fake_discord.api_base)
    rest_b = DiscordRest(fake_discord.token, api_base=fake_discord.api_base)
    try:
        started = utc_now()
        deliver_pending(db, [DiscordBotNotifier(rest_a, channel_a)], policy=POLICY)
        held = reserve_slot(db, GLOBAL_BUCKET, 0.0, started)
        assert held >= started + timedelta(seconds=0.5)  # A told every replica to wait
        # Replica B (its own connection and REST client) posts at the moment of the 429.
        other, clock = open_db(db_path), FakeClock(started)
        notifier_b = DiscordBotNotifier(rest_b, channel_b)
        deliver_pending(other, [notifier_b], policy=POLICY, now=clock.now, sleep=clock.sleep)
        other.close()
    finally:
        rest_a.close()
        rest_b.close()
    assert len(fake_discord.global_hits) == 1
    assert [row["status"] for row in list_outbox(db)] == ["delivered", "delivered"]
    db.close()
    # B slept until A's hold ended instead of posting into the global limit.
    assert clock.sleeps and clock.sleeps[0] >= 0.5


def test_replicas_share_the_token_pace(db_path: Path) -> None:
    """Two senders on one database take alternate slots of the token's 50 posts a second."""
    db, other = open_db(db_path), open_db(db_path)
    now = utc_now()
    slots = [reserve_slot(store, GLOBAL_BUCKET, 1 / 50, now) for store in (db, other, db, other)]
    assert slots == [now + n * timedelta(seconds=1 / 50) for n in range(4)]
    db.close()
    other.close()
