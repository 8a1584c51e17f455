"""Queued alerts on-call: subscribers' mentions and DMs, mutes; fake Discord/Slack, real SQLite."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.delivery.alerting import queue_alerts
from bot.delivery.destinations import build_notifiers, close_notifiers
from bot.delivery.discord import DiscordDmNotifier
from bot.delivery.enqueue import enqueue_and_deliver
from bot.delivery.message import build_alert_message
from bot.delivery.sender import DeliveryPolicy, DeliveryReport
from signals.models import Event
from storage import subscriptions as subs
from storage.db import open_db
from storage.outbox import due_rows, list_outbox, load_alert
from storage.outbox_claims import claim_next
from tests.bot.test_signal_cli import TEST_RULES, fill, invoke
from tests.fakes.delivery_kit import T0, FakeClock, make_event
from tests.fakes.discord_interactions import CHANNEL, FakeDiscordApp
from tests.fakes.on_call_kit import (
    ALICE,
    BOB,
    CAROL,
    RULE,
    SLACK_ANN,
    SLACK_BEN,
    channel_posts,
    desk_settings,
    dm_posts,
    slack_channel_posts,
    slack_dm_posts,
    slack_text,
)
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

POLICY = DeliveryPolicy(max_wait=0)


def deliver(
    db_path: Path, settings: Settings, events: list[Event], clock: FakeClock, **options: Any
) -> DeliveryReport:
    """One `check --deliver` run: a fresh connection and notifiers, like a new process."""
    db = open_db(db_path)
    notifiers = build_notifiers(settings)
    try:
        return enqueue_and_deliver(
            db, events, notifiers, None, render=lambda e, m: None,  # type: ignore[arg-type]
            now=clock.now, sleep=clock.sleep, policy=POLICY, settings=settings, **options,
        )  # fmt: skip
    finally:
        close_notifiers(notifiers)
        db.close()


def subscribe(db_path: Path, platform: str, user: str, mode: str, rule: str = RULE) -> None:
    db = open_db(db_path)
    subs.subscribe(db, platform, user, rule, mode, now=T0)
    db.close()


@pytest.fixture
def desk(db_path: Path, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack) -> Settings:
    """Discord and Slack channels; Alice and Ann want mentions, Bob and Ben want DMs."""
    subscribe(db_path, "discord", ALICE, "mention")
    subscribe(db_path, "discord", BOB, "dm")
    subscribe(db_path, "discord", CAROL, "mention", rule="another_rule")
    subscribe(db_path, "slack", SLACK_ANN, "mention", rule="all")
    subscribe(db_path, "slack", SLACK_BEN, "dm")
    return desk_settings(fake_discord_app, fake_slack)


def test_mention_subscribers_are_pinged_in_the_channel_and_nobody_else(
    db_path: Path, desk: Settings, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack
) -> None:
    report = deliver(db_path, desk, [make_event()], FakeClock())

    assert (report.delivered, report.dead) == (4, 0)  # 2 channels + 2 DMs
    [posted] = channel_posts(fake_discord_app)
    assert posted.payload["allowed_mentions"] == {"parse": [], "users": [int(ALICE)]}
    assert posted.payload["content"] == f"<@{ALICE}>"
    [slack_post] = slack_channel_posts(fake_slack)
    assert re.findall(r"<[@!][^>]*>", str(slack_post.payload["blocks"])) == [f"<@{SLACK_ANN}>"]
    # The push notification is built from the fallback text, so the ping is there too.
    assert re.findall(r"<[@!][^>]*>", slack_post.payload["text"]) == [f"<@{SLACK_ANN}>"]


def test_dm_subscribers_get_a_dm_without_pings_and_are_not_mentioned(
    db_path: Path, desk: Settings, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack
) -> None:
    deliver(db_path, desk, [make_event()], FakeClock())

    [dm] = dm_posts(fake_discord_app, BOB)
    assert dm.payload["allowed_mentions"]["users"] == []
    assert dm.embed["title"] == "▲ IWC overtook OEF YTD"
    [slack_dm] = slack_dm_posts(fake_slack)
    assert slack_dm.channel == "D0BEN0000" and "<@" not in slack_text(slack_dm)
    destinations = {row["destination"] for row in list_outbox(open_db(db_path))}
    assert destinations == {
        f"discord:{CHANNEL}",
        f"discord:dm:{BOB}",
        f"slack:{CHANNEL_ID}",
        f"slack:dm:{SLACK_BEN}",
    }


def test_a_dm_is_sent_exactly_once_even_when_the_sender_died_after_posting_it(
    db_path: Path, desk: Settings, fake_discord_app: FakeDiscordApp
) -> None:
    clock = FakeClock()
    db = open_db(db_path)
    queue_alerts(db, [make_event()], [f"discord:{CHANNEL}"], settings=desk, now=clock.now())
    [row] = [r for r in due_rows(db, clock.now()) if r.destination == f"discord:dm:{BOB}"]
    # A sender claims the DM, Discord accepts it, and the process dies before recording it.
    claim = claim_next(db, [row.destination], clock.now(), lease_seconds=60, owner="crashed")
    assert claim is not None and claim.row.id == row.id
    event, _ = load_alert(db, row.dedupe_key)
    notifiers = build_notifiers(desk)
    DiscordDmNotifier(notifiers[0].rest, BOB).send(  # type: ignore[attr-defined]
        build_alert_message(event), idempotency_key=row.dedupe_key
    )
    close_notifiers(notifiers)
    db.close()

    clock.moment += timedelta(minutes=2)  # the claim's lease has run out: a new process
    deliver(db_path, desk, [make_event()], clock)
    deliver(db_path, desk, [make_event()], clock)  # and another run of the same check

    assert len(dm_posts(fake_discord_app, BOB)) == 1
    statuses = {r["destination"]: r["status"] for r in list_outbox(open_db(db_path))}
    assert statuses[f"discord:dm:{BOB}"] == "delivered"
    assert len(channel_posts(fake_discord_app)) == 1


def test_a_muted_rule_posts_nothing_until_unmuted(
    db_path: Path,
    desk: Settings,
    fake_discord_app: FakeDiscordApp,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = open_db(db_path)
    subs.mute(db, RULE, T0 + timedelta(days=1), by=ALICE, platform="discord", now=T0)
    db.close()
    clock = FakeClock()

    with caplog.at_level(logging.INFO, logger="bot.delivery.alerting"):
        deliver(db_path, desk, [make_event(day=20)], clock)

    assert fake_discord_app.messages == [] and fake_slack.messages == []
    assert list_outbox(open_db(db_path)) == []
    assert f"alert {RULE}:2026-11-20:fired recorded, not posted" in caplog.text
    db = open_db(db_path)
    assert subs.unmute(db, RULE)
    db.close()
    deliver(db_path, desk, [make_event(day=21)], clock)
    titles = [m.embed["title"] for m in channel_posts(fake_discord_app)]
    assert titles == ["▲ IWC overtook OEF YTD"]
    assert {r["dedupe_key"] for r in list_outbox(open_db(db_path))} == {f"{RULE}:2026-11-21:fired"}


def test_a_mute_of_all_rules_holds_every_alert(
    db_path: Path, desk: Settings, fake_discord_app: FakeDiscordApp
) -> None:
    db = open_db(db_path)
    subs.mute(db, "all", T0 + timedelta(hours=4), by=ALICE, platform="discord", now=T0)
    db.close()
    deliver(db_path, desk, [make_event(), make_event(rule="other", title="Other")], FakeClock())
    assert fake_discord_app.messages == []


def test_mentions_follow_subscription_changes_between_queueing_and_sending(
    db_path: Path, desk: Settings, fake_discord_app: FakeDiscordApp
) -> None:
    subscribe(db_path, "discord", CAROL, "mention")
    db = open_db(db_path)
    clock = FakeClock()
    queue_alerts(db, [make_event()], [f"discord:{CHANNEL}"], settings=desk, now=clock.now())
    stored = {r["destination"]: r for r in db.query("SELECT destination, mentions FROM outbox")}
    assert stored[f"discord:{CHANNEL}"]["mentions"] == f"{ALICE} {CAROL}"
    subs.unsubscribe(db, "discord", CAROL, RULE)  # leaves before the post goes out
    subs.subscribe(db, "discord", "45", RULE, "mention", now=T0)  # joins after it fired
    db.close()

    deliver(db_path, desk, [], clock)

    [posted] = channel_posts(fake_discord_app)
    assert posted.payload["allowed_mentions"]["users"] == [int(ALICE)]


def test_an_alert_queued_again_adds_no_rows_for_new_subscribers(
    db_path: Path, desk: Settings, fake_discord_app: FakeDiscordApp
) -> None:
    clock = FakeClock()
    deliver(db_path, desk, [make_event()], clock)
    subscribe(db_path, "discord", "46", "dm")
    report = deliver(db_path, desk, [make_event()], clock)
    assert report.delivered == 0
    assert dm_posts(fake_discord_app, "46") == []


def test_without_on_call_nobody_is_pinged_or_dmed(
    db_path: Path, desk: Settings, fake_discord_app: FakeDiscordApp
) -> None:
    db = open_db(db_path)
    subs.mute(db, RULE, T0 + timedelta(days=1), by=ALICE, platform="discord", now=T0)
    report = queue_alerts(
        db, [make_event()], [f"discord:{CHANNEL}"], settings=desk, now=T0, on_call=False
    )
    assert (report.alerts, report.rows, report.muted) == (1, 1, [])  # a replay ignores mutes
    [(destination, mentions)] = db.execute("SELECT destination, mentions FROM outbox").fetchall()
    assert (destination, mentions) == (f"discord:{CHANNEL}", "")


def test_check_deliver_pings_mentions_and_dms_subscribers(
    db_path: Path,
    tmp_path: Path,
    fake_discord_app: FakeDiscordApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(TEST_RULES + "renotify_minutes = 30\n", encoding="utf-8")
    for name, value in {
        "ROTATION_RULES": str(rules),
        "DISCORD_BOT_TOKEN": fake_discord_app.token,
        "DISCORD_CHANNEL_IDS": CHANNEL,
        "DISCORD_API_BASE": fake_discord_app.api_base,
        "ROTATION_CATCHUP_ALERT_DAYS": "3650",
    }.items():
        monkeypatch.setenv(name, value)
    fill(db_path, "X", [1, 2, 1])
    # Primes the rule silently; the hand-made 2025 bars are STALE today, hence exit 1.
    assert invoke(db_path, "check").exit_code == 1
    subscribe(db_path, "discord", ALICE, "mention", rule="x-high")
    subscribe(db_path, "discord", BOB, "dm", rule="all")
    fill(db_path, "X", [3], start=3)

    result = invoke(db_path, "check", "--deliver")

    assert result.exit_code == 0, result.output
    [posted] = channel_posts(fake_discord_app)
    assert posted.payload["allowed_mentions"]["users"] == [int(ALICE)]
    assert len(dm_posts(fake_discord_app, BOB)) == 1
    [started] = open_db(db_path).execute("SELECT rule_id, round FROM renotify").fetchall()
    assert started == ("x-high", 0)  # the rule's renotify_minutes started the rounds
