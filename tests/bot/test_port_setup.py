"""Port set-ups that cannot serve stop `rotation-bot run` with exit 2 (issue 21, item 5).

The chat endpoints listen on all interfaces; metrics on the same port but another host
(the default 127.0.0.1) used to kill both chat adapters at start while the process stayed
up, `/healthz` silent. Now `run` refuses such a set-up before it starts anything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.chat.discord.http_guard import check_discord_settings
from bot.chat.slack.answers import check_slack_settings
from bot.config import load_settings
from tests.bot.test_cli_run import invoke

DISCORD_HTTP = {
    "DISCORD_BOT_TOKEN": "d-token", "DISCORD_MODE": "http", "DISCORD_PUBLIC_KEY": "ab" * 32,
    "DISCORD_HTTP_PORT": "3000",
}  # fmt: skip
SLACK_HTTP = {
    "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_MODE": "http", "SLACK_SIGNING_SECRET": "s",
    "SLACK_HTTP_PORT": "3000",
}  # fmt: skip


@pytest.mark.parametrize(
    "chat, setting", [(DISCORD_HTTP, "DISCORD_HTTP_PORT"), (SLACK_HTTP, "SLACK_HTTP_PORT")]
)
def test_metrics_on_the_chat_port_but_another_host_stop_run_with_exit_2(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, chat: dict[str, str], setting: str
) -> None:
    for name, value in {**chat, "ROTATION_METRICS_PORT": "3000"}.items():
        monkeypatch.setenv(name, value)
    code, output = invoke("--db", str(db_path), "run")
    assert code == 2
    [line] = output.strip().splitlines()
    assert line.startswith(f"config error: ROTATION_METRICS_PORT=3000 is also {setting}")
    assert "ROTATION_METRICS_HOST=0.0.0.0" in line and "own port" in line
    assert not db_path.exists()  # nothing started


@pytest.mark.parametrize(
    "metrics", [{"metrics_port": 9464}, {"metrics_port": 3000, "metrics_host": "0.0.0.0"}, {}]
)
def test_metrics_on_their_own_port_or_published_on_the_chat_port_are_served(
    metrics: dict[str, object],
) -> None:
    discord = load_settings(None, **{k.lower(): v for k, v in DISCORD_HTTP.items()}, **metrics)
    slack = load_settings(None, **{k.lower(): v for k, v in SLACK_HTTP.items()}, **metrics)
    assert check_discord_settings(discord) == [] and check_slack_settings(slack) == []
