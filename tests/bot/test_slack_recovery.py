"""A Slack alert recovered by the metadata lookup gets its chart, exactly once.

A Slack alert is two calls: chat.postMessage, then the chart's upload into the thread. A real
sender process is killed between them (or right after the chart was shared); the restarted
sender finds the post by its metadata and finishes what is missing, never twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.delivery.sender import deliver_pending
from bot.delivery.slack import SlackBotNotifier
from storage.db import open_db
from storage.outbox import enqueue_alerts, list_outbox
from tests.fakes.delivery_kit import PNG, T0, FakeClock, make_event
from tests.fakes.kill_trials import POLICY, run_killed_sender
from tests.fakes.slack_api import CHANNEL_ID, FakeSlack

NAME = f"slack:{CHANNEL_ID}"


def kill_and_restart(db_path: Path, fake: FakeSlack, kill_at: str) -> SlackBotNotifier:
    """Queue one alert with a chart, kill the sender at `kill_at`, deliver again later."""
    db = open_db(db_path)
    event = make_event()
    enqueue_alerts(db, [event], [NAME], charts={event.dedupe_key: PNG})
    fake.kill_at = kill_at
    env = {
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_CHANNEL": CHANNEL_ID,
        "SLACK_API_URL": fake.api_url,
    }
    run_killed_sender(db_path, fake, env)
    assert [r["status"] for r in list_outbox(db)] == ["sending"]
    notifier = SlackBotNotifier(fake.token, CHANNEL_ID, api_base=fake.api_url)
    clock = FakeClock(datetime.now(UTC) + timedelta(minutes=2))
    report = deliver_pending(db, [notifier], now=clock.now, sleep=clock.sleep, policy=POLICY)
    assert report.delivered == 1
    return notifier


def completed_uploads(fake: FakeSlack) -> int:
    return fake.requests.count("/api/files.completeUploadExternal")


@pytest.mark.parametrize("kill_at", ["upload", "shared"])
def test_killed_around_the_chart_upload_the_chart_arrives_once(db_path, fake_slack, kill_at):
    kill_and_restart(db_path, fake_slack, kill_at)
    [post] = fake_slack.messages
    assert fake_slack.requests.count("/api/chat.postMessage") == 1
    [chart] = post.files  # one chart in the thread, whether it was missing or already there
    assert (chart["bytes"], chart["thread_ts"]) == (PNG, post.ts)
    assert completed_uploads(fake_slack) == 1
    assert "/api/conversations.replies" in fake_slack.requests
    assert list_outbox(open_db(db_path))[0]["message_id"] == post.ts


def test_a_post_accepted_behind_a_503_gets_its_chart_on_the_retry(fresh_db, fake_slack):
    notifier = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
    event = make_event()
    enqueue_alerts(fresh_db, [event], [NAME], charts={event.dedupe_key: PNG}, now=T0)
    fake_slack.fail_after_accept = 1  # stored, then a proxy answers 503: no chart was sent
    clock = FakeClock()
    report = deliver_pending(fresh_db, [notifier], now=clock.now, sleep=clock.sleep, policy=POLICY)
    assert (report.retried, report.delivered) == (1, 1)
    [post] = fake_slack.messages
    assert [f["bytes"] for f in post.files] == [PNG]


def test_a_failed_look_at_the_thread_retries_instead_of_dropping_the_chart(fresh_db, fake_slack):
    notifier = SlackBotNotifier(fake_slack.token, CHANNEL_ID, api_base=fake_slack.api_url)
    event = make_event()
    enqueue_alerts(fresh_db, [event], [NAME], charts={event.dedupe_key: PNG}, now=T0)
    fake_slack.fail_after_accept = 1
    fake_slack.fail_replies = 1  # the thread cannot be read on the first retry
    clock = FakeClock()
    report = deliver_pending(fresh_db, [notifier], now=clock.now, sleep=clock.sleep, policy=POLICY)
    assert (report.retried, report.delivered) == (2, 1)
    [post] = fake_slack.messages
    assert [f["bytes"] for f in post.files] == [PNG]
    assert fake_slack.requests.count("/api/chat.postMessage") == 1
