"""A captured signed request replayed to another replica, or after a restart, is refused.

Each "replica" is its own door (endpoint or middleware) with its own in-process memory and
its own connection to the one database, as separate `rotation-bot run` processes have.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from nacl.signing import SigningKey

from bot.chat.core import Commands
from bot.chat.discord.http_mode import INTERACTIONS_PATH, InteractionsEndpoint
from bot.chat.replays import SharedReplays
from bot.service.web import mount
from storage import subscriptions as subs
from storage.db import open_db
from tests.bot.test_slack_hostile import command_body
from tests.fakes.discord_http_kit import post, sign
from tests.fakes.discord_kit import BOB, Harness, _command_data, interaction_payload
from tests.fakes.slack_api import FakeSlack
from tests.fakes.slack_bolt_kit import NOW, RULES, TRADER, seed_prices, serve, slack_settings


async def test_a_discord_interaction_replayed_to_another_replica_or_after_a_restart_gets_401(
    bot: Harness, seeded_db: Path
) -> None:
    key = SigningKey.generate()
    public = key.verify_key.encode().hex()
    body = json.dumps(interaction_payload("7001", "tok", 2, _command_data("help", {}), BOB))
    headers = sign(key, body.encode(), str(int(time.time())))
    answers = []
    for _replica in ("first", "second", "first restarted"):
        core = Commands.for_path(bot.client.core.settings, seeded_db)  # its own connections
        shared = SharedReplays(lambda core=core: core.db)
        endpoint = InteractionsEndpoint(bot.client, public, shared=shared)
        mounted = await mount("127.0.0.1", 0, {("POST", INTERACTIONS_PATH): endpoint.handle})
        url = f"http://127.0.0.1:{mounted.port}{INTERACTIONS_PATH}"
        try:
            answer = await asyncio.to_thread(post, url, body.encode(), headers)
        finally:
            await mounted.cleanup()
        answers.append((answer.status, answer.body))
    assert answers[0][0] == 200
    refused = (401, b"interaction replayed within five minutes")
    assert answers[1:] == [refused, refused]


async def asyncio_post(url: str, body: bytes, headers: dict[str, str]):
    import asyncio

    return await asyncio.to_thread(post, url, body, headers)


async def test_a_slack_command_replayed_to_another_replica_does_not_run_again(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    path = tmp_path / "rotation.db"
    settings = slack_settings(fake_slack)
    seed_prices(path)
    replicas = []
    for _ in range(2):
        core = Commands.for_path(settings, path, rules=RULES, clock=lambda: NOW)
        shared = SharedReplays(lambda core=core: core.db)
        replicas.append(serve(fake_slack, core, settings, shared))
    first, second = [await anext(replica) for replica in replicas]
    try:
        body = command_body(first, "/rot-subscribe", "aaa-ath", TRADER)
        stamp = int(time.time())
        ran = await first.post(body, timestamp=stamp)
        replayed = await second.post(body, timestamp=stamp)
        assert (ran.status, replayed.status, replayed.body) == (200, 200, "")
        await first.answers(1)
        await first.settle()
        assert len(fake_slack.responses) == 1  # the replay ran nothing
    finally:
        for replica in replicas:
            await replica.aclose()
    db = open_db(path)
    assert [s.rule_id for s in subs.list_subscriptions(db, "slack", TRADER)] == ["aaa-ath"]
    db.close()
