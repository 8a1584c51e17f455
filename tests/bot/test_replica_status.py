"""Issue 12 items 2 and 7 in `rotation-bot run` and `status`: the gateway on the leader only,
and the replicas shown by the CLI (`--json` too) and by `/status` on both platforms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.chat.discord.format import status_embed
from bot.chat.replies import StatusReply
from bot.chat.slack.format import reply_blocks
from bot.cli import _register_commands, app
from bot.cli.run import chat_adapters
from bot.config import load_settings
from bot.service.health import collect_health
from bot.service.leader import Leadership
from storage import replicas
from storage.db import open_db
from tests.bot.test_run_adapters import names

_register_commands()


def register(db_path: Path, now: datetime) -> None:
    db = open_db(db_path)
    for name in ("bot-a", "bot-b"):
        replica = {
            "id": f"{name}:7", "host": name, "pid": 7, "version": "0.1.0",
            "engine": "postgresql", "started_at": now.isoformat(),
        }  # fmt: skip
        replicas.announce(db, replica, now)
    replicas.set_role(db, "bot-b:7", "leader", now)
    db.close()


@pytest.mark.parametrize(
    ("mode", "expected"), [("gateway", ["while_leading"]), ("http", ["run_discord"])]
)
def test_the_discord_gateway_runs_on_the_leader_only(
    db_path: Path, mode: str, expected: list[str]
) -> None:
    extra = {"discord_public_key": "ab" * 32} if mode == "http" else {}
    settings = load_settings(None, discord_bot_token="d", discord_mode=mode, **extra)
    leadership = Leadership.for_database(db_path, 15.0)
    assert names(chat_adapters(settings, db_path, leadership=leadership)) == expected


def test_slack_runs_on_every_replica(db_path: Path) -> None:
    settings = load_settings(None, slack_bot_token="xoxb-1", slack_app_token="xapp-1")
    leadership = Leadership.for_database(db_path, 15.0)
    assert names(chat_adapters(settings, db_path, leadership=leadership)) == ["run_slack"]


def test_status_json_lists_the_replicas_and_the_leader(db_path: Path) -> None:
    register(db_path, datetime.now(UTC) - timedelta(seconds=1))

    result = CliRunner().invoke(app, ["--db", str(db_path), "status", "--json"])

    report = json.loads(result.stdout)
    assert report["leader"] == "bot-b:7"
    assert {r["id"]: r["state"] for r in report["replicas"]} == {
        "bot-b:7": "leader",
        "bot-a:7": "follower",
    }
    text = CliRunner().invoke(app, ["--db", str(db_path), "status"]).stdout
    assert "replicas: 2 (leader bot-b:7 since " in text


def test_slash_status_shows_the_leader_on_discord_and_slack(db_path: Path) -> None:
    now = datetime.now(UTC)
    register(db_path, now)
    health = collect_health(open_db(db_path), now, load_settings(None))
    leader = health.leader
    assert leader is not None
    reply = StatusReply(
        health.ok, tuple(health.problems), (), health, "Status", f"{leader['id']} since now"
    )

    embed = status_embed(reply)
    assert {"name": "Leader", "value": "bot-b:7 since now", "inline": False} in embed["fields"]
    blocks = reply_blocks(reply)
    assert "Leader: bot-b:7 since now" in json.dumps(blocks)
