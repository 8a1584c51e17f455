"""Structured log lines, and no secret from Settings ever reaching a log."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.config import load_settings
from bot.logging_setup import REDACTED, Redactor, configure_logging, secret_values

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GhIjKl.bot-token-value-0123456789"
# A webhook URL of the shape Discord issues (an 18-digit id, a token of 60+ characters).
HOOK_TOKEN = "hook-token-" + "abcdefghijklmnop" * 4
WEBHOOK = f"https://discord.com/api/webhooks/123456789012345678/{HOOK_TOKEN}"
SLACK = "xoxb-1111-2222-slacksecretvalue"


@pytest.fixture
def settings():  # type: ignore[no-untyped-def]
    return load_settings(
        None,
        discord_bot_token=SecretStr(TOKEN),
        discord_webhook_url=SecretStr(WEBHOOK),
        slack_bot_token=SecretStr(SLACK),
    )


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def capture(settings, log_format: str = "kv") -> io.StringIO:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    configure_logging(settings.model_copy(update={"log_format": log_format}), stream)
    return stream


def secrets_in(text: str) -> list[str]:
    pieces = [TOKEN, WEBHOOK, SLACK, HOOK_TOKEN, "slacksecretvalue"]
    return [piece for piece in pieces if piece in text]


@pytest.mark.usefixtures("restore_logging")
def test_secrets_are_redacted_from_messages_and_arguments(settings) -> None:  # type: ignore[no-untyped-def]
    stream = capture(settings)
    log = logging.getLogger("some.library")
    log.warning("posting to %s with token %s", WEBHOOK, TOKEN)
    log.error(f"slack said invalid_auth for {SLACK}")

    text = stream.getvalue()
    assert secrets_in(text) == []
    assert text.count(REDACTED) == 3
    assert "level=WARNING logger=some.library" in text


@pytest.mark.usefixtures("restore_logging")
def test_secrets_are_redacted_from_tracebacks_and_url_fragments(settings) -> None:  # type: ignore[no-untyped-def]
    stream = capture(settings, "json")
    try:
        raise RuntimeError(f"404 for /api/webhooks/123456789012345678/{HOOK_TOKEN}")
    except RuntimeError:
        logging.getLogger("bot.delivery.sender").exception("delivery failed")

    record = json.loads(stream.getvalue())
    assert record["msg"] == "delivery failed"
    assert "RuntimeError" in record["exc"]
    assert secrets_in(stream.getvalue()) == []


@pytest.mark.usefixtures("restore_logging")
def test_key_value_lines_quote_what_needs_quoting(settings) -> None:  # type: ignore[no-untyped-def]
    stream = capture(settings)
    logging.getLogger("bot").info('evaluated "IWC/OEF" a=b\nsecond line')
    line = stream.getvalue().strip()
    assert "\n" not in line
    assert line.endswith('msg="evaluated \\"IWC/OEF\\" a=b\\nsecond line"')


def test_every_secret_field_is_collected(settings) -> None:  # type: ignore[no-untyped-def]
    values = secret_values(settings)
    assert {TOKEN, WEBHOOK, SLACK, HOOK_TOKEN} <= set(values)
    assert secret_values(load_settings(None)) == []


def test_redactor_without_secrets_changes_nothing() -> None:
    assert Redactor([])("plain text") == "plain text"
    assert Redactor(["abcd", "abcdefgh"])("xabcdefghx") == f"x{REDACTED}x"


@pytest.mark.usefixtures("restore_logging")
def test_discord_voice_package_warnings_are_not_logged(settings) -> None:  # type: ignore[no-untyped-def]
    import discord
    from discord.voice_client import VoiceClient

    stream = capture(settings)
    VoiceClient.warn_nacl = VoiceClient.warn_dave = True  # as in a fresh process
    discord.Client(intents=discord.Intents.none())
    logging.getLogger("discord.client").warning("a real discord.client warning")
    assert "voice will NOT be supported" not in stream.getvalue()
    assert "a real discord.client warning" in stream.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_the_database_urls_password_is_redacted() -> None:
    url = "postgresql://rotation:db-pass-w0rd@db.example:5432/rotation"
    settings = load_settings(None, db_path=url)
    assert "db-pass-w0rd" in secret_values(settings)
    stream = capture(settings)
    logging.getLogger("storage").error("cannot reach %s (password db-pass-w0rd)", url)
    text = stream.getvalue()
    assert "db-pass-w0rd" not in text and "db.example:5432/rotation" in text


@pytest.mark.usefixtures("restore_logging")
def test_a_short_database_password_is_redacted_inside_the_url() -> None:
    settings = load_settings(None, db_path="postgresql://bot:pw@db.example/rotation")
    stream = capture(settings)
    logging.getLogger("storage").error("opening postgresql://bot:pw@db.example/rotation")
    assert ":pw@" not in stream.getvalue()
