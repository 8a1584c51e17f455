"""Structured logs (key=value or JSON lines) that never contain a secret from Settings.

Every secret (each `SecretStr` field: tokens, signing secrets, webhook URLs, and the password
of a `postgresql://` ROTATION_DB) is removed from
the message, its arguments, tracebacks and stack info by a filter on the handler, so records
from any library (aiohttp, slack_sdk, discord.py) pass through it too.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TextIO
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from storage.urls import is_database_url, url_password

if TYPE_CHECKING:  # not at run time: the commands that only read start without pydantic
    from bot.config import Settings

REDACTED = "[redacted]"
# Parts of a secret URL worth hiding on their own (a webhook token in an error's path), and
# the shortest secret we redact at all (shorter ones would mangle ordinary words).
MIN_PIECE = 12
MIN_SECRET = 4
QUIET_LOGGERS = ("apscheduler", "asyncio", "urllib3", "aiohttp.access")


class NoVoiceWarnings(logging.Filter):
    """Drop discord.py's start-up warnings about voice packages: this bot never joins voice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


class NoSlackSendErrors(logging.Filter):
    """Drop slack_sdk's own "Failed to send a request" line: the sender reports the same
    failure with the alert and destination, so each attempt was logged twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed to send a request to Slack API server")


def secret_values(settings: Settings) -> list[str]:
    """Every secret string in `settings`, plus the token-like parts of secret URLs."""
    values: set[str] = set()
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        # pydantic's SecretStr, or the quick reader's QuickSecret (bot/quick_settings.py)
        if hasattr(value, "get_secret_value") and value.get_secret_value():
            secret = value.get_secret_value()
            values.update([secret, quote(secret, safe="")], _url_pieces(secret))
    values.update(_database_password(settings.db_path))
    return sorted((v for v in values if len(v) >= MIN_SECRET), key=len, reverse=True)


def _database_password(target: object) -> list[str]:
    """A database URL's password, as written and decoded, and its `:password@` (short ones too)."""
    password = url_password(target) if is_database_url(target) else None
    if not password:
        return []
    return [password, unquote(password), f":{password}@"]


def _url_pieces(secret: str) -> list[str]:
    parts = urlsplit(secret)
    if not parts.scheme or not parts.netloc:
        return []
    pieces = [segment for segment in parts.path.split("/") if len(segment) >= MIN_PIECE]
    pieces += [value for _, value in parse_qsl(parts.query) if len(value) >= MIN_PIECE]
    if parts.path and len(parts.path) >= MIN_PIECE:
        pieces.append(parts.path)
    return pieces


class Redactor:
    """Replaces each known secret in a text by `[redacted]`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        ordered = sorted(set(secrets), key=len, reverse=True)  # longest first: no half secrets
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def __call__(self, text: str) -> str:
        """`text` with every secret replaced."""
        return self._pattern.sub(REDACTED, text) if self._pattern else text


class RedactingFilter(logging.Filter):
    """Handler filter: formats the message once and redacts it, the traceback and stack."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; never drops it."""
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def _fields(record: logging.LogRecord) -> dict[str, str]:
    stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
    fields = {
        "ts": stamp.replace("+00:00", "Z"),
        "level": record.levelname,
        "logger": record.name,
        "msg": record.getMessage(),
    }
    if record.exc_text:
        fields["exc"] = record.exc_text
    if record.stack_info:
        fields["stack"] = record.stack_info
    return fields


class KeyValueFormatter(logging.Formatter):
    """`ts=... level=INFO logger=bot.service.runner msg="..."`, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        """One line; values with spaces, quotes or newlines are quoted and escaped."""
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return " ".join(f"{key}={_quote(value)}" for key, value in _fields(record).items())


def _quote(value: str) -> str:
    if value and not re.search(r'[\s"=\\]', value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class JsonFormatter(logging.Formatter):
    """One JSON object per line, keys ts, level, logger, msg (and exc, stack)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as compact JSON."""
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return json.dumps(_fields(record), ensure_ascii=False)


def configure_logging(settings: Settings, stream: TextIO | None = None) -> Redactor:
    """Send every log record to `stream` (stderr) formatted and redacted; return the redactor."""
    redactor = Redactor(secret_values(settings))
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else KeyValueFormatter())
    handler.addFilter(RedactingFilter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    _add_once(logging.getLogger("discord.client"), NoVoiceWarnings())
    for name in ("slack_sdk.webhook.client", "slack_sdk.web.base_client"):
        _add_once(logging.getLogger(name), NoSlackSendErrors())
    if settings.log_level != "DEBUG":
        for name in QUIET_LOGGERS:  # per-run chatter ("Running job ...") drowns our own lines
            logging.getLogger(name).setLevel(logging.WARNING)
    return redactor


def _add_once(logger: logging.Logger, new: logging.Filter) -> None:
    if not any(type(old) is type(new) for old in logger.filters):
        logger.addFilter(new)
