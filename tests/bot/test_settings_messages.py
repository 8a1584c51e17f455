"""Settings a newcomer gets wrong: refused at start with a line that says what to write,
or accepted when refusing would be pedantic (a log level's case)."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from bot.config import ConfigError, load_settings
from tests.conftest import PROJECT_ROOT

_register_commands()
HOOK_ID, HOOK_TOKEN = "112233445566778899", "T" * 68


@pytest.mark.parametrize(("given", "level"), [("info", "INFO"), ("Debug", "DEBUG")])
def test_a_log_level_in_any_case_is_accepted(
    given: str, level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTATION_LOG_LEVEL", given)
    assert load_settings(None).log_level == level


def test_modes_and_formats_in_any_case_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"ROTATION_LOG_FORMAT": "JSON", "SLACK_MODE": "Socket"}.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(None)
    assert (settings.log_format, settings.slack_mode) == ("json", "socket")


@pytest.mark.parametrize("given", ["5:30pm", "25:00", "17h30", "1730", ""])
def test_a_digest_time_not_hh_mm_names_the_format(
    given: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTATION_DIGEST_TIME", given or " ")
    with pytest.raises(ConfigError) as refused:
        load_settings(None)
    assert refused.value.lines == [
        f"config error: ROTATION_DIGEST_TIME: must be a 24-hour time HH:MM (e.g. 17:30), "
        f"got {given or ' '!r}"
    ]


@pytest.mark.parametrize(("given", "expected"), [("9:05", time(9, 5)), ("17:30:00", time(17, 30))])
def test_a_digest_time_reads_hh_mm(
    given: str, expected: time, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROTATION_DIGEST_TIME", given)
    assert load_settings(None).digest_time == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://discord.com/api/webhooks/123/abc",  # id and token cut short
        "https://discord.com/webhooks/" + HOOK_ID,
        "https://example.com/api/webhooks/" + HOOK_ID + "/" + HOOK_TOKEN,
        "discord.com/api/webhooks/" + HOOK_ID + "/" + "tok en" * 12,
    ],
)
def test_a_malformed_discord_webhook_is_refused_at_start_without_echoing_it(
    url: str, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
    result = CliRunner().invoke(app, ["--db", str(db_path), "check"])
    assert result.exit_code == 2
    assert result.stderr.startswith("config error: DISCORD_WEBHOOK_URL: is not a Discord webhook")
    assert url not in result.output and "webhooks/123/abc" not in result.output


def test_a_discord_webhook_as_discord_issues_it_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for host in ("discord.com", "discordapp.com", "canary.discord.com"):
        url = f"https://{host}/api/webhooks/{HOOK_ID}/{HOOK_TOKEN}"
        monkeypatch.setenv("DISCORD_WEBHOOK_URL", url)
        assert load_settings(None).discord_enabled


def test_a_database_in_a_missing_directory_is_refused_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mistyped = tmp_path / "dta" / "rotation.db"
    monkeypatch.setenv("ROTATION_DB", str(mistyped))
    for command in (["check"], ["run", "--replay", "2025-01-02:2025-01-03"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("config error: ROTATION_DB: the directory")
        assert "does not exist" in result.stderr
    flag = CliRunner().invoke(app, ["--db", str(mistyped), "status"])
    assert flag.exit_code == 2 and "does not exist" in flag.stderr
    assert not mistyped.parent.exists()


def test_discord_http_mode_without_a_token_stops_run_with_exit_2(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISCORD_MODE", "http")
    monkeypatch.setenv("DISCORD_PUBLIC_KEY", "ab" * 32)
    result = CliRunner().invoke(app, ["--db", str(db_path), "run"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "config error: DISCORD_BOT_TOKEN is required in HTTP mode (DISCORD_MODE=http)"
    )
    assert not db_path.exists()  # stopped before anything was opened


def test_env_example_says_admin_ids_also_manage_rules() -> None:
    text = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    for name in ("DISCORD_ADMIN_IDS", "SLACK_ADMIN_IDS"):
        comment = text[: text.index(f"\n{name}=")].rsplit("\n\n", 1)[-1]
        assert "/rule" in comment.splitlines()[-2] + comment.splitlines()[-1], name


def test_the_template_unit_does_not_restart_a_configuration_error() -> None:
    unit = (PROJECT_ROOT / "deploy" / "rotation-bot@.service").read_text(encoding="utf-8")
    assert "RestartPreventExitStatus=2" in unit  # exit 2: fix the settings, restarting won't


def test_the_compose_password_never_goes_into_the_url() -> None:
    # A password with @ : / # would break the URL; libpq reads PGPASSWORD instead.
    compose = yaml.safe_load((PROJECT_ROOT / "deploy" / "docker-compose.ha.yml").read_text())
    for name, service in compose["services"].items():
        if name == "postgres":
            continue
        environment = service["environment"]
        assert "POSTGRES_PASSWORD" not in environment["ROTATION_DB"]
        assert environment["PGPASSWORD"] == "${POSTGRES_PASSWORD:-change-me}"
