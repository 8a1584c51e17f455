"""The pydantic model of the settings (`bot.config.Settings`), imported only when needed.

`bot.config.load_settings` validates through it; the commands that only read the database
take `bot.config.load_settings_quickly`, which reads the same variables without pydantic
and comes here only when a value needs pydantic's judgement (and its messages). The value
checks both share live in `bot.settings_values`.
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot import settings_values as values
from bot.config import (
    DEFAULT_DB,
    DEFAULT_FRED_URL,
    DEFAULT_FRENCH_URL,
    DEFAULT_LINKS,
    DEFAULT_STOOQ_URL,
    Destinations,
)

CommaList = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings, Destinations):
    """Validated configuration; build it with `bot.config.load_settings`."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        # `VAR=` in .env means "use the default", as in .env.example.
        env_ignore_empty=True,
    )

    # Storage and rules: a SQLite file path, or a `postgresql://` URL (kept as text: a URL
    # taken for a path would lose its `//` and become folders named `postgresql:`).
    db_path: Path | str = Field(DEFAULT_DB, validation_alias="ROTATION_DB")
    rules_path: Path | None = Field(None, validation_alias="ROTATION_RULES")
    extra_symbols: CommaList = Field((), validation_alias="ROTATION_SYMBOLS")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", validation_alias="ROTATION_LOG_LEVEL"
    )
    log_format: Literal["kv", "json"] = Field("kv", validation_alias="ROTATION_LOG_FORMAT")

    # Market data
    history_start: date = Field(date(2000, 1, 1), validation_alias="ROTATION_HISTORY_START")
    refresh_overlap_sessions: int = Field(5, ge=0, le=60, validation_alias="ROTATION_OVERLAP")
    fetch_retries: int = Field(4, ge=0, le=10, validation_alias="ROTATION_FETCH_RETRIES")
    fetch_timeout: float = Field(30.0, gt=0, le=300, validation_alias="ROTATION_FETCH_TIMEOUT")
    # Unset: Yahoo Finance itself. A URL: every *.yahoo.com request goes to <URL>/<host>/<path>
    # instead (a mirror or proxy; the tests point it at their local fake Yahoo).
    yahoo_url: str | None = Field(None, validation_alias="ROTATION_YAHOO_URL")
    fred_url: str = Field(DEFAULT_FRED_URL, validation_alias="FRED_CSV_URL")
    stooq_url: str = Field(DEFAULT_STOOQ_URL, validation_alias="STOOQ_CSV_URL")
    fred_series: CommaList = Field(("DFEDTARU", "DGS10", "DGS3MO"), validation_alias="FRED_SERIES")
    # The French library's 25 size x book-to-market portfolios (docs/valuation.md); `off`: never.
    french_url: str = Field(DEFAULT_FRENCH_URL, validation_alias="FRENCH_5X5_URL")

    # Data quality (README "Data quality"): when a move is suspect, and who confirms it
    suspect_sigmas: float = Field(10.0, gt=0, le=100, validation_alias="ROTATION_SUSPECT_SIGMAS")
    suspect_floor_pct: float = Field(
        8.0, gt=0, le=100, validation_alias="ROTATION_SUSPECT_FLOOR_PCT"
    )
    linked_symbols: Annotated[tuple[tuple[str, ...], ...], NoDecode] = Field(
        DEFAULT_LINKS,
        validation_alias="ROTATION_LINKED_SYMBOLS",
    )
    rate_jump_bps: float = Field(75.0, gt=0, le=5000, validation_alias="ROTATION_RATE_JUMP_BPS")
    hold_series: CommaList = Field(
        ("DFEDTARU", "DFEDTARL"), validation_alias="ROTATION_HOLD_SERIES"
    )
    quality_exempt: CommaList = Field(("^VIX", "DFF"), validation_alias="ROTATION_QUALITY_EXEMPT")
    # Symbols not on the NYSE calendar: only weekends and future dates are refused for them.
    weekday_symbols: CommaList = Field(("^VIX",), validation_alias="ROTATION_WEEKDAY_SYMBOLS")
    # SYMBOL=FRED series or SYMBOL=stooq:symbol cross-checked after each refresh
    # (`^GSPC=SP500,^RUT=stooq:^rut,IWM=stooq:iwm.us`); empty: none.
    second_source: CommaList = Field((), validation_alias="ROTATION_SECOND_SOURCE")
    second_source_tolerance_pct: float = Field(
        1.0, gt=0, le=50, validation_alias="ROTATION_SECOND_SOURCE_TOLERANCE_PCT"
    )

    # Discord
    discord_bot_token: SecretStr | None = Field(None, validation_alias="DISCORD_BOT_TOKEN")
    discord_channel_ids: CommaList = Field((), validation_alias="DISCORD_CHANNEL_IDS")
    discord_webhook_url: SecretStr | None = Field(None, validation_alias="DISCORD_WEBHOOK_URL")
    discord_api_base: str | None = Field(None, validation_alias="DISCORD_API_BASE")
    discord_admin_ids: CommaList = Field((), validation_alias="DISCORD_ADMIN_IDS")
    # gateway: one websocket session (one replica). http: Discord POSTs interactions to
    # /discord/interactions, verified with the application's public key (behind a balancer).
    discord_mode: Literal["gateway", "http"] = Field("gateway", validation_alias="DISCORD_MODE")
    discord_public_key: str | None = Field(
        None, pattern=r"^[0-9a-fA-F]{64}$", validation_alias="DISCORD_PUBLIC_KEY"
    )
    discord_http_port: int = Field(3000, ge=1, le=65535, validation_alias="DISCORD_HTTP_PORT")

    # Slack
    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_channel: str | None = Field(None, validation_alias="SLACK_CHANNEL")
    slack_webhook_url: SecretStr | None = Field(None, validation_alias="SLACK_WEBHOOK_URL")
    slack_api_url: str | None = Field(None, validation_alias="SLACK_API_URL")
    slack_mode: Literal["socket", "http"] = Field("socket", validation_alias="SLACK_MODE")
    slack_http_port: int = Field(3000, ge=1, le=65535, validation_alias="SLACK_HTTP_PORT")
    slack_command_prefix: str = Field("", validation_alias="SLACK_COMMAND_PREFIX")
    slack_admin_ids: CommaList = Field((), validation_alias="SLACK_ADMIN_IDS")

    # On-call: after this many unacknowledged re-notification rounds, escalate to the channel
    renotify_rounds: int = Field(3, ge=0, le=20, validation_alias="ROTATION_RENOTIFY_ROUNDS")

    # Delivery
    # An alert not delivered this long after it was queued (or re-queued) is given up (dead).
    delivery_max_age_hours: float = Field(
        6.0, gt=0, le=168, validation_alias="DELIVERY_MAX_AGE_HOURS"
    )
    delivery_base_delay: float = Field(
        2.0, gt=0, le=600, validation_alias="DELIVERY_BASE_DELAY_SECONDS"
    )
    delivery_lease_seconds: float = Field(
        60.0, gt=0, le=3600, validation_alias="DELIVERY_LEASE_SECONDS"
    )
    delivery_max_wait: float = Field(
        300.0, ge=0, le=3600, validation_alias="DELIVERY_MAX_WAIT_SECONDS"
    )
    # `check --deliver` stops delivering this long after it began; the rest stays queued.
    check_deliver_deadline: float = Field(
        30.0, gt=0, le=3600, validation_alias="DELIVERY_CHECK_DEADLINE_SECONDS"
    )
    # Every request to Discord or Slack (posts, uploads, history lookups) gives up after this
    # long; a post that timed out is looked up on the platform before it is posted again.
    request_timeout_seconds: float = Field(
        30.0, ge=1, le=300, validation_alias="ROTATION_REQUEST_TIMEOUT_SECONDS"
    )

    # Service
    intraday_minutes: int = Field(15, ge=1, le=390, validation_alias="ROTATION_INTRADAY_MINUTES")
    # After a refresh that could not reach Yahoo, the evaluation is tried again this much later.
    fetch_retry_minutes: int = Field(
        15, ge=1, le=1440, validation_alias="ROTATION_FETCH_RETRY_MINUTES"
    )
    close_delay_minutes: int = Field(
        20, ge=0, le=600, validation_alias="ROTATION_CLOSE_DELAY_MINUTES"
    )
    digest_time: time = Field(time(17, 30), validation_alias="ROTATION_DIGEST_TIME")
    catchup_alert_days: int = Field(
        3, ge=0, le=3650, validation_alias="ROTATION_CATCHUP_ALERT_DAYS"
    )
    # Several replicas on PostgreSQL: the leader's lease. A hung leader is replaced this long
    # (plus up to a second) after its last renewal; a killed one within a second or two.
    leader_lease_seconds: float = Field(
        15.0, ge=1, le=600, validation_alias="ROTATION_LEADER_LEASE_SECONDS"
    )
    # A leader whose worker has not been able to work this long (every job failing, or one
    # job hanging) gives its lease up so that another replica leads.
    leader_watchdog_seconds: float = Field(
        600.0, ge=5, le=86400, validation_alias="ROTATION_LEADER_WATCHDOG_SECONDS"
    )
    metrics_port: int | None = Field(None, ge=1, le=65535, validation_alias="ROTATION_METRICS_PORT")
    metrics_host: str = Field("127.0.0.1", validation_alias="ROTATION_METRICS_HOST")
    # Charted commands (/spread, /signal): threads drawing them (0: one fewer than the CPUs)
    # and how many one user may have under way before being told to try again.
    chart_workers: int = Field(0, ge=0, le=64, validation_alias="ROTATION_CHART_WORKERS")
    charts_per_user: int = Field(2, ge=1, le=100, validation_alias="ROTATION_CHARTS_PER_USER")
    # The public port's door (docs/public-port.md): caps on open connections and deadlines.
    http_max_connections: int = Field(
        512, ge=1, le=100_000, validation_alias="ROTATION_HTTP_MAX_CONNECTIONS"
    )
    http_max_per_address: int = Field(
        64, ge=1, le=100_000, validation_alias="ROTATION_HTTP_MAX_PER_ADDRESS"
    )
    http_header_timeout: float = Field(
        10.0, gt=0, le=600, validation_alias="ROTATION_HTTP_HEADER_TIMEOUT_SECONDS"
    )
    http_body_timeout: float = Field(
        10.0, gt=0, le=600, validation_alias="ROTATION_HTTP_BODY_TIMEOUT_SECONDS"
    )
    http_idle_timeout: float = Field(
        15.0, gt=0, le=3600, validation_alias="ROTATION_HTTP_IDLE_TIMEOUT_SECONDS"
    )

    @field_validator("french_url", mode="before")
    @classmethod
    def french_off(cls, value: object) -> object:
        """`off` or `none` turns the French library download off (empty means the default)."""
        return values.french_off(value)

    @field_validator(*values.COMMA_LISTS, mode="before")
    @classmethod
    def split_commas(cls, value: object) -> object:
        """Accept `A,B , C` in the environment as well as real sequences."""
        return values.split_commas(value)

    @field_validator("extra_symbols", mode="after")
    @classmethod
    def upper_symbols(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Symbols are stored upper case everywhere; a typo fails at start, not at Yahoo."""
        return values.upper_symbols(value)

    @field_validator("second_source", mode="after")
    @classmethod
    def symbol_pairs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Each entry is SYMBOL=FRED series or SYMBOL=stooq:symbol."""
        return values.symbol_pairs(value)

    @field_validator("linked_symbols", mode="before")
    @classmethod
    def split_groups(cls, value: object) -> object:
        """`^RUT IWM IWC; ^GSPC SPY`: groups separated by `;`, members by spaces or commas."""
        return values.split_groups(value)

    @field_validator("db_path", mode="before")
    @classmethod
    def path_or_url(cls, value: object) -> object:
        """A `postgresql://` URL stays a URL; anything else is a file path; other URLs fail."""
        return values.path_or_url(value)

    @field_validator(*values.UPPER_WORDS, mode="before")
    @classmethod
    def upper_word(cls, value: object) -> object:
        """`info` means INFO: a level is not worth refusing a start over its case."""
        return values.upper_word(value)

    @field_validator(*values.LOWER_WORDS, mode="before")
    @classmethod
    def lower_word(cls, value: object) -> object:
        """`HTTP` means http, `JSON` json."""
        return values.lower_word(value)

    @field_validator("digest_time", mode="before")
    @classmethod
    def clock_time(cls, value: object) -> object:
        """A 24-hour HH:MM; the error names the format (pydantic's names a character)."""
        return values.clock_time(value)

    @field_validator("discord_webhook_url", mode="before")
    @classmethod
    def discord_webhook(cls, value: object) -> object:
        """Refused at start, not at the first alert; the URL is a secret, never echoed."""
        return values.discord_webhook(value)

    @field_validator("history_start", mode="before")
    @classmethod
    def iso_date(cls, value: object) -> object:
        """A YYYY-MM-DD date, checked at start rather than at the first refresh."""
        return values.iso_date(value)

    @field_validator("discord_channel_ids", "discord_admin_ids", mode="after")
    @classmethod
    def numeric_snowflakes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Discord ids are numeric snowflakes; catch a pasted channel name early."""
        return values.numeric_snowflakes(value)


_FLAGS = {"db_path": "--db"}


def format_errors(error: ValidationError) -> list[str]:
    """One line per problem, naming the environment variable, never echoing secrets."""
    lines = []
    for problem in error.errors():
        name = ".".join(str(part) for part in problem["loc"]) or "settings"
        name = _FLAGS.get(name, name)  # a command-line override is named as it was typed
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"config error: {name}: {message}")
    return lines
