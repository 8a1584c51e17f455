"""The sender keeps to its claim: it never posts or records a row whose lease it lost."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.sender import DeliveryPolicy, deliver_pending
from storage.db import open_db, open_shared
from storage.outbox import enqueue_alerts, list_outbox
from storage.outbox_claims import claim_next, finish_delivered
from storage.pacing import hold
from tests.fakes.delivery_kit import T0, FakeClock, make_event
from tests.fakes.discord_api import FakeDiscord

CHANNEL = "123456789012345678"
POLICY = DeliveryPolicy(lease_seconds=60.0, max_wait=0)


def test_a_sender_that_wakes_after_its_lease_does_not_overwrite_the_new_owner(
    db_path: Path, fake_discord: FakeDiscord
) -> None:
    """Frozen while its post is in flight: B takes the row over and records it; A's result loses."""
    db = open_db(db_path)
    enqueue_alerts(db, [make_event(1)], [f"discord:{CHANNEL}"], now=T0)
    clock, other = FakeClock(T0), open_shared(db_path)  # replica B, used from the stand-in
    taken_over: list[str] = []

    def freeze_past_the_lease(_port: int) -> bool:
        clock.moment += timedelta(seconds=120)  # A is stopped while Discord accepts its post
        claim = claim_next(other, [f"discord:{CHANNEL}"], clock.moment, 60, "replica-b")
        assert claim is not None and claim.row.status == "sending"
        assert finish_delivered(other, claim, "found-by-b", clock.moment)  # B looked it up
        taken_over.append(claim.token)
        return True

    fake_discord.on_accept = freeze_past_the_lease
    rest = DiscordRest(fake_discord.token, api_base=fake_discord.api_base)
    try:
        report = deliver_pending(
            db, [DiscordBotNotifier(rest, CHANNEL)], now=clock.now, sleep=clock.sleep,
            policy=POLICY,
        )  # fmt: skip
    finally:
        rest.close()
    [row] = list_outbox(db)
    assert taken_over and (row["status"], row["message_id"]) == ("delivered", "found-by-b")
    assert report.delivered == 0
    assert [o["outcome"] for o in report.outcomes] == ["lost"]
    db.close()
    other.close()


def test_a_pacing_wait_longer_than_the_lease_gives_the_row_back_unposted(
    db_path: Path, fake_discord: FakeDiscord
) -> None:
    db = open_db(db_path)
    enqueue_alerts(db, [make_event(1)], [f"discord:{CHANNEL}"], now=T0)
    hold(db, "discord:bot", T0 + timedelta(seconds=300))  # a long global back-off
    clock = FakeClock(T0)
    rest = DiscordRest(fake_discord.token, api_base=fake_discord.api_base)
    notifier = DiscordBotNotifier(rest, CHANNEL)
    try:
        deliver_pending(db, [notifier], now=clock.now, sleep=clock.sleep, policy=POLICY)
        [row] = list_outbox(db)
        assert fake_discord.messages == [] and clock.sleeps == []
        assert (row["status"], row["attempts"]) == ("pending", 0)  # given back, attempt refunded
        assert row["next_attempt_at"] == (T0 + timedelta(seconds=300)).isoformat(
            timespec="microseconds"
        )
        clock.moment = T0 + timedelta(seconds=300)
        deliver_pending(db, [notifier], now=clock.now, sleep=clock.sleep, policy=POLICY)
    finally:
        rest.close()
    assert [row["status"] for row in list_outbox(db)] == ["delivered"]
    assert len(fake_discord.messages) == 1
    db.close()
