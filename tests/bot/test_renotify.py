"""Re-notification rounds and escalation through the service's delivery job, on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.chat.core import Commands
from bot.chat.on_call import make_actor
from bot.config import Settings
from bot.delivery.alerting import queue_alerts
from bot.delivery.discord import DiscordBotNotifier, DiscordRest
from bot.delivery.message import build_alert_message
from bot.service.jobs import ServiceJobs
from signals.models import Event
from signals.rules import Rule, parse_rule
from storage import renotify
from storage import subscriptions as subs
from storage.db import open_db
from tests.fakes.delivery_kit import FakeClock, make_event
from tests.fakes.discord_interactions import CHANNEL, FakeDiscordApp
from tests.fakes.discord_kit import ALICE as HARNESS_ALICE
from tests.fakes.discord_kit import Harness
from tests.fakes.on_call_kit import (
    ALICE,
    BOB,
    CAROL,
    RULE,
    SLACK_ANN,
    channel_posts,
    desk_settings,
    dm_posts,
    slack_channel_posts,
)
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

KEY = f"{RULE}:2026-11-20:fired"
# Rows are due by the real clock inside the sender: start the simulated day in the past.
START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)


def rule(renotify: int | None = 30) -> Rule:
    spec = {"type": "relative_crossover", "id": RULE, "a": "IWC", "b": "OEF"}
    return parse_rule(spec | ({"renotify_minutes": renotify} if renotify else {}))


class Desk:
    """The service's jobs over one database, a clock to move, and a way to fire alerts."""

    def __init__(self, settings: Settings, db_path: Path, rules: list[Rule]) -> None:
        self.settings, self.db_path, self.rules = settings, db_path, rules
        self.clock = FakeClock(START)
        self.jobs = self.start()

    def start(self) -> ServiceJobs:
        """A (re)started service."""
        jobs = ServiceJobs(self.settings, self.db_path, digests=False)
        jobs.clock = self.clock.now  # type: ignore[method-assign]
        return jobs

    def fire(self, *events: Event) -> None:
        db = open_db(self.db_path)
        names = [f"discord:{CHANNEL}"] + (
            [f"slack:{CHANNEL_ID}"] if self.settings.slack_channel else []
        )
        queue_alerts(
            db, list(events), names, settings=self.settings, rules=self.rules, now=self.clock.now()
        )
        db.close()

    async def after(self, minutes: float) -> None:
        """Let simulated time pass, then run one delivery pass (the 30 s poll)."""
        self.clock.moment += timedelta(minutes=minutes)
        await self.jobs.deliver()

    async def close(self) -> None:
        """Stop the service (off the event loop, as `rotation-bot run` does after it)."""
        await asyncio.to_thread(self.jobs.close)

    def acknowledge(self, user: str, key: str) -> None:
        core = Commands(
            self.settings, open_db(self.db_path), rules=self.rules, clock=self.clock.now
        )
        core.acknowledge(make_actor(self.settings, "discord", user), key)


@pytest.fixture
def desk(db_path: Path, fake_discord_app: FakeDiscordApp) -> Iterator[Desk]:
    """Alice wants mentions and Bob DMs; the rule re-notifies every 30 min, 2 rounds."""
    db = open_db(db_path)
    subs.subscribe(db, "discord", ALICE, RULE, "mention", now=START)
    subs.subscribe(db, "discord", BOB, RULE, "dm", now=START)
    db.close()
    desk = Desk(desk_settings(fake_discord_app, renotify_rounds=2), db_path, [rule()])
    yield desk
    desk.jobs.close()


def titles(posts: list) -> list[str]:  # type: ignore[type-arg]
    return [p.embed["title"] for p in posts]


async def test_rounds_remind_subscribers_then_escalate_to_the_channel(
    desk: Desk, fake_discord_app: FakeDiscordApp
) -> None:
    desk.fire(make_event())
    await desk.after(0)
    await desk.after(29)
    assert len(channel_posts(fake_discord_app)) == 1 and len(dm_posts(fake_discord_app, BOB)) == 1

    for _ in range(4):  # two reminders, the escalation, then silence
        await desk.after(30)
    await desk.after(240)

    channel = channel_posts(fake_discord_app)
    assert titles(channel) == [
        "▲ IWC overtook OEF YTD",
        "▲ Reminder 1/2: IWC overtook OEF YTD",
        "▲ Reminder 2/2: IWC overtook OEF YTD",
        "▲ Escalated: IWC overtook OEF YTD",
    ]
    assert [p.payload["content"] for p in channel] == [f"<@{ALICE}>"] * 4
    footers = [p.embed["footer"]["text"].rsplit(" ", 1)[1] for p in channel]
    assert footers == [KEY, f"{KEY}:renotify:1", f"{KEY}:renotify:2", f"{KEY}:escalated"]
    assert len({p.nonce for p in channel}) == 4  # no round is mistaken for another
    escalation = channel[-1].embed["description"]
    assert escalation.startswith("Escalated: not acknowledged after 2 reminder(s).")
    assert titles(dm_posts(fake_discord_app, BOB)) == [
        "▲ IWC overtook OEF YTD",
        "▲ Reminder 1/2: IWC overtook OEF YTD",
        "▲ Reminder 2/2: IWC overtook OEF YTD",
    ]


async def test_acknowledging_a_reminder_stops_the_rounds(
    desk: Desk, fake_discord_app: FakeDiscordApp
) -> None:
    desk.fire(make_event())
    await desk.after(0)
    await desk.after(30)
    desk.acknowledge(BOB, f"{KEY}:renotify:1")  # pressed on the DM reminder

    await desk.after(30)
    await desk.after(60)

    assert len(channel_posts(fake_discord_app)) == 2
    ack = subs.acknowledgement(open_db(desk.db_path), KEY)
    assert ack is not None and ack.user_id == BOB


async def test_a_reversal_stops_the_rounds(desk: Desk, fake_discord_app: FakeDiscordApp) -> None:
    desk.fire(make_event())
    await desk.after(0)
    await desk.after(10)
    desk.fire(make_event(kind="reversed"))
    await desk.after(0)
    await desk.after(120)

    assert titles(channel_posts(fake_discord_app)) == [
        "▲ IWC overtook OEF YTD",
        "▲ IWC overtook OEF YTD (reversed)",
    ]


async def test_renotify_is_off_unless_the_rule_sets_it(
    db_path: Path, fake_discord_app: FakeDiscordApp
) -> None:
    desk = Desk(desk_settings(fake_discord_app), db_path, [rule(renotify=None)])
    desk.fire(make_event())
    await desk.after(0)
    await desk.after(600)
    await desk.close()
    assert len(fake_discord_app.messages) == 1
    assert renotify.due_renotifications(open_db(db_path), desk.clock.now()) == []


async def test_rounds_wait_while_the_rule_is_muted(
    desk: Desk, fake_discord_app: FakeDiscordApp
) -> None:
    desk.fire(make_event())
    await desk.after(0)
    db = open_db(desk.db_path)
    subs.mute(db, RULE, desk.clock.now() + timedelta(minutes=45), by="7", platform="discord",
              now=desk.clock.now())  # fmt: skip
    db.close()
    await desk.after(30)
    assert len(channel_posts(fake_discord_app)) == 1
    await desk.after(16)
    assert titles(channel_posts(fake_discord_app))[1:] == ["▲ Reminder 1/2: IWC overtook OEF YTD"]


async def test_a_restart_neither_repeats_nor_skips_a_round(
    desk: Desk, fake_discord_app: FakeDiscordApp
) -> None:
    desk.fire(make_event())
    await desk.after(0)
    await desk.after(30)
    await desk.close()
    desk.jobs = desk.start()
    await desk.after(0)
    await desk.after(1)
    assert len(channel_posts(fake_discord_app)) == 2
    assert len(dm_posts(fake_discord_app, BOB)) == 2
    await desk.after(29)
    assert len(channel_posts(fake_discord_app)) == 3


async def test_slack_reminders_mention_subscribers_under_their_own_key(
    db_path: Path, fake_discord_app: FakeDiscordApp, fake_slack: FakeSlack
) -> None:
    db = open_db(db_path)
    subs.subscribe(db, "slack", SLACK_ANN, RULE, "mention", now=START)
    db.close()
    settings = desk_settings(fake_discord_app, fake_slack, renotify_rounds=1)
    desk = Desk(settings, db_path, [rule()])
    desk.fire(make_event())
    await desk.after(0)
    await desk.after(30)
    await desk.close()

    posts = slack_channel_posts(fake_slack)
    keys = [p.payload["metadata"]["event_payload"]["alert_key"] for p in posts]
    assert keys == [KEY, f"{KEY}:renotify:1"]
    assert all(f"<@{SLACK_ANN}>" in str(p.payload["blocks"]) for p in posts)
    assert channel_posts(fake_discord_app) == channel_posts(fake_discord_app)[:1]  # nobody there


@pytest.mark.parametrize(
    ("key", "original"),
    [
        (f"{KEY}:renotify:3", KEY),
        (f"{KEY}:escalated", KEY),
        (KEY, KEY),
        ("odd:renotify:x", "odd:renotify:x"),  # not a round's key: left alone
    ],
)
def test_a_rounds_key_names_its_alert(key: str, original: str) -> None:
    assert renotify.original_alert_key(key) == original


async def test_the_acknowledge_button_on_a_discord_reminder_acknowledges_the_alert(
    bot: Harness, seeded_db: Path
) -> None:
    original = "iwc-ath:2026-11-20:fired"
    reminder = replace(
        build_alert_message(make_event(rule="iwc-ath")), key=renotify.renotify_key(original, 1)
    )
    rest = DiscordRest(bot.fake.token, api_base=bot.fake.api_base)
    try:
        sent = await asyncio.to_thread(
            DiscordBotNotifier(rest, CHANNEL).send, reminder, idempotency_key=reminder.key
        )
    finally:
        await asyncio.to_thread(rest.close)
    posted = bot.fake.message_by_id(str(sent.message_id))
    button = posted.payload["components"][0]["components"][0]["custom_id"]
    assert button == f"rot:ack:{original}:renotify:1"

    token = await bot.press(button, bot.fake.message_json(posted), HARNESS_ALICE)

    assert bot.fake.sequence(token) == ["callback:6", "edit_original"]
    ack = subs.acknowledgement(open_db(seeded_db), original)
    assert ack is not None and ack.user_id == HARNESS_ALICE.id


async def test_dm_only_discord_shares_one_client_across_passes(
    db_path: Path, fake_discord_app: FakeDiscordApp
) -> None:
    # A bot token without alert channels: DMs only, so no channel notifier owns a client.
    db = open_db(db_path)
    subs.subscribe(db, "discord", BOB, RULE, "dm", now=START)
    db.close()
    settings = desk_settings(fake_discord_app, discord_channel_ids=())
    desk = Desk(settings, db_path, [rule(None)])
    try:
        desk.fire(make_event())
        await desk.after(0)
        db = open_db(db_path)
        subs.subscribe(db, "discord", CAROL, RULE, "dm", now=START)
        db.close()
        desk.fire(make_event(21))
        await desk.after(1)
    finally:
        await desk.close()
    assert len(dm_posts(fake_discord_app, BOB)) == 2
    assert len(dm_posts(fake_discord_app, CAROL)) == 1
    logins = [r for r in fake_discord_app.requests if r == ("GET", "/api/v10/users/@me")]
    assert len(logins) == 1
