"""The settings read without pydantic, for the commands that only read the database.

`read_quickly` turns the variables (`bot.config.read_variables`) into a `QuickSettings` with
the attributes, values and types of `Settings`, through the same value functions
(`bot.settings_values`). It accepts only what it is sure of: a number in plain digits within
its bounds, a word from its list, a value the shared functions take. Anything else (a bad
value, a variable named by its field name rather than its alias, a `.env` line without a
value, an override that is not text) answers None, and the caller validates with the
pydantic model, which gives the same value or the one-line error it always gave.
`tests/bot/test_quick_settings.py` holds both readers to the same values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, time
from pathlib import Path
from typing import Any

from bot import settings_values as values
from bot.config import (
    DEFAULT_DB,
    DEFAULT_FRED_URL,
    DEFAULT_FRENCH_URL,
    DEFAULT_LINKS,
    DEFAULT_STOOQ_URL,
    Destinations,
)

Reader = Callable[[str], Any]
_DIGITS = re.compile(r"0|[1-9][0-9]{0,8}")
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")
_PUBLIC_KEY = re.compile(r"[0-9a-fA-F]{64}")
_UNSET = object()


class QuickSecret:
    """A secret as pydantic's SecretStr shows it: hidden in str() and repr()."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The secret itself."""
        return self._value

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __repr__(self) -> str:
        return f"SecretStr({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return hasattr(other, "get_secret_value") and other.get_secret_value() == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)


def _int(low: int, high: int) -> Reader:
    def read(text: str) -> int:
        number = int(text) if _DIGITS.fullmatch(text) else low - 1
        if not low <= number <= high:
            raise ValueError(text)
        return number

    return read


def _float(low: float, high: float, *, above: bool = True) -> Reader:
    """A plain decimal in (low, high] (`above`) or [low, high]."""

    def read(text: str) -> float:
        if not _DECIMAL.fullmatch(text):
            raise ValueError(text)
        number = float(text)
        if not (number > low if above else number >= low) or number > high:
            raise ValueError(text)
        return number

    return read


def _word(allowed: tuple[str, ...], normal: Callable[[object], object]) -> Reader:
    def read(text: str) -> str:
        word = normal(text)
        if word not in allowed:
            raise ValueError(text)
        return str(word)

    return read


def _names(check: Callable[[tuple[str, ...]], tuple[str, ...]] = tuple) -> Reader:
    return lambda text: check(values.split_commas(text))  # type: ignore[arg-type]


def _text(text: str) -> str:
    return text


def _secret(text: str) -> QuickSecret:
    return QuickSecret(text)


def _webhook(text: str) -> QuickSecret:
    return QuickSecret(values.discord_webhook(text))  # type: ignore[arg-type]


def _public_key(text: str) -> str:
    if not _PUBLIC_KEY.fullmatch(text):
        raise ValueError("not a public key")
    return text


_PORT = _int(1, 65535)
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# name: (variable, default, reader). The same names, defaults and bounds as Settings; the
# test compares both field by field.
FIELDS: dict[str, tuple[str, Any, Reader]] = {
    "db_path": ("ROTATION_DB", DEFAULT_DB, values.path_or_url),
    "rules_path": ("ROTATION_RULES", None, Path),
    "extra_symbols": ("ROTATION_SYMBOLS", (), _names(values.upper_symbols)),
    "log_level": ("ROTATION_LOG_LEVEL", "INFO", _word(_LEVELS, values.upper_word)),
    "log_format": ("ROTATION_LOG_FORMAT", "kv", _word(("kv", "json"), values.lower_word)),
    "history_start": ("ROTATION_HISTORY_START", date(2000, 1, 1), values.iso_date),
    "refresh_overlap_sessions": ("ROTATION_OVERLAP", 5, _int(0, 60)),
    "fetch_retries": ("ROTATION_FETCH_RETRIES", 4, _int(0, 10)),
    "fetch_timeout": ("ROTATION_FETCH_TIMEOUT", 30.0, _float(0, 300)),
    "yahoo_url": ("ROTATION_YAHOO_URL", None, _text),
    "fred_url": ("FRED_CSV_URL", DEFAULT_FRED_URL, _text),
    "stooq_url": ("STOOQ_CSV_URL", DEFAULT_STOOQ_URL, _text),
    "fred_series": ("FRED_SERIES", ("DFEDTARU", "DGS10", "DGS3MO"), _names()),
    "french_url": ("FRENCH_5X5_URL", DEFAULT_FRENCH_URL, values.french_off),
    "suspect_sigmas": ("ROTATION_SUSPECT_SIGMAS", 10.0, _float(0, 100)),
    "suspect_floor_pct": ("ROTATION_SUSPECT_FLOOR_PCT", 8.0, _float(0, 100)),
    "linked_symbols": ("ROTATION_LINKED_SYMBOLS", DEFAULT_LINKS, values.split_groups),
    "rate_jump_bps": ("ROTATION_RATE_JUMP_BPS", 75.0, _float(0, 5000)),
    "hold_series": ("ROTATION_HOLD_SERIES", ("DFEDTARU", "DFEDTARL"), _names()),
    "quality_exempt": ("ROTATION_QUALITY_EXEMPT", ("^VIX", "DFF"), _names()),
    "weekday_symbols": ("ROTATION_WEEKDAY_SYMBOLS", ("^VIX",), _names()),
    "second_source": ("ROTATION_SECOND_SOURCE", (), _names(values.symbol_pairs)),
    "second_source_tolerance_pct": ("ROTATION_SECOND_SOURCE_TOLERANCE_PCT", 1.0, _float(0, 50)),
    "discord_bot_token": ("DISCORD_BOT_TOKEN", None, _secret),
    "discord_channel_ids": ("DISCORD_CHANNEL_IDS", (), _names(values.numeric_snowflakes)),
    "discord_webhook_url": ("DISCORD_WEBHOOK_URL", None, _webhook),
    "discord_api_base": ("DISCORD_API_BASE", None, _text),
    "discord_admin_ids": ("DISCORD_ADMIN_IDS", (), _names(values.numeric_snowflakes)),
    "discord_mode": ("DISCORD_MODE", "gateway", _word(("gateway", "http"), values.lower_word)),
    "discord_public_key": ("DISCORD_PUBLIC_KEY", None, _public_key),
    "discord_http_port": ("DISCORD_HTTP_PORT", 3000, _PORT),
    "slack_bot_token": ("SLACK_BOT_TOKEN", None, _secret),
    "slack_app_token": ("SLACK_APP_TOKEN", None, _secret),
    "slack_signing_secret": ("SLACK_SIGNING_SECRET", None, _secret),
    "slack_channel": ("SLACK_CHANNEL", None, _text),
    "slack_webhook_url": ("SLACK_WEBHOOK_URL", None, _secret),
    "slack_api_url": ("SLACK_API_URL", None, _text),
    "slack_mode": ("SLACK_MODE", "socket", _word(("socket", "http"), values.lower_word)),
    "slack_http_port": ("SLACK_HTTP_PORT", 3000, _PORT),
    "slack_command_prefix": ("SLACK_COMMAND_PREFIX", "", _text),
    "slack_admin_ids": ("SLACK_ADMIN_IDS", (), _names()),
    "renotify_rounds": ("ROTATION_RENOTIFY_ROUNDS", 3, _int(0, 20)),
    "delivery_max_age_hours": ("DELIVERY_MAX_AGE_HOURS", 6.0, _float(0, 168)),
    "delivery_base_delay": ("DELIVERY_BASE_DELAY_SECONDS", 2.0, _float(0, 600)),
    "delivery_lease_seconds": ("DELIVERY_LEASE_SECONDS", 60.0, _float(0, 3600)),
    "delivery_max_wait": ("DELIVERY_MAX_WAIT_SECONDS", 300.0, _float(0, 3600, above=False)),
    "check_deliver_deadline": ("DELIVERY_CHECK_DEADLINE_SECONDS", 30.0, _float(0, 3600)),
    "request_timeout_seconds": (
        "ROTATION_REQUEST_TIMEOUT_SECONDS", 30.0, _float(1, 300, above=False)
    ),
    "intraday_minutes": ("ROTATION_INTRADAY_MINUTES", 15, _int(1, 390)),
    "fetch_retry_minutes": ("ROTATION_FETCH_RETRY_MINUTES", 15, _int(1, 1440)),
    "close_delay_minutes": ("ROTATION_CLOSE_DELAY_MINUTES", 20, _int(0, 600)),
    "digest_time": ("ROTATION_DIGEST_TIME", time(17, 30), values.clock_time),
    "catchup_alert_days": ("ROTATION_CATCHUP_ALERT_DAYS", 3, _int(0, 3650)),
    "leader_lease_seconds": ("ROTATION_LEADER_LEASE_SECONDS", 15.0, _float(1, 600, above=False)),
    "leader_watchdog_seconds": (
        "ROTATION_LEADER_WATCHDOG_SECONDS", 600.0, _float(5, 86400, above=False)
    ),
    "metrics_port": ("ROTATION_METRICS_PORT", None, _PORT),
    "metrics_host": ("ROTATION_METRICS_HOST", "127.0.0.1", _text),
    "chart_workers": ("ROTATION_CHART_WORKERS", 0, _int(0, 64)),
    "charts_per_user": ("ROTATION_CHARTS_PER_USER", 2, _int(1, 100)),
    "http_max_connections": ("ROTATION_HTTP_MAX_CONNECTIONS", 512, _int(1, 100_000)),
    "http_max_per_address": ("ROTATION_HTTP_MAX_PER_ADDRESS", 64, _int(1, 100_000)),
    "http_header_timeout": ("ROTATION_HTTP_HEADER_TIMEOUT_SECONDS", 10.0, _float(0, 600)),
    "http_body_timeout": ("ROTATION_HTTP_BODY_TIMEOUT_SECONDS", 10.0, _float(0, 600)),
    "http_idle_timeout": ("ROTATION_HTTP_IDLE_TIMEOUT_SECONDS", 15.0, _float(0, 3600)),
}  # fmt: skip


# Fields whose variable is not their own name: pydantic-settings reads both names.
_OWN_NAMES = [name for name, (variable, _, _) in FIELDS.items() if variable.lower() != name]


class QuickSettings(Destinations):
    """The settings as `Settings` holds them (frozen), read without pydantic."""

    model_fields = dict.fromkeys(FIELDS)  # the names, as `type(settings).model_fields` gives

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.__dict__.update(settings)

    def __setattr__(self, name: str, value: object) -> None:
        raise TypeError(f"settings are frozen: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QuickSettings) and other.__dict__ == self.__dict__

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"QuickSettings(db_path={self.db_path!r})"  # never the secrets

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> QuickSettings:
        """A copy with some values replaced (not validated, as pydantic's model_copy)."""
        return QuickSettings({**self.__dict__, **(update or {})})


def read_quickly(
    variables: Mapping[str, str | None], overrides: Mapping[str, object]
) -> QuickSettings | None:
    """The settings from `variables` (lower-case names) and flag `overrides`, or None when
    any value needs the pydantic model's judgement."""
    if any(name in variables for name in _OWN_NAMES) or any(
        name not in FIELDS or not isinstance(value, str) for name, value in overrides.items()
    ):
        return None  # a field named by its own name, or a flag we do not know: the model
    settings = {}
    for name, (variable, default, read) in FIELDS.items():
        text = overrides.get(name, variables.get(variable.lower(), _UNSET))
        if text is _UNSET:
            settings[name] = default
            continue
        if not isinstance(text, str):
            return None  # a `.env` line without a value
        try:
            settings[name] = read(text)
        except ValueError:
            return None
    return QuickSettings(settings)
