"""Settings read once from the environment and `.env`; the only module that reads os.environ.

Every variable is documented in `.env.example` with its default. Invalid values stop the
program at start with one line per problem (see `format_errors`), never a traceback.

`Settings` is the pydantic model (`bot/settings_model.py`), imported on first use: pydantic
and pydantic-settings cost more than the rest of a `status` start. `load_settings` validates
through it. `load_settings_quickly` (the commands that only read the database) reads the same
variables with the same precedence (flags, then the environment, then `.env`, then the
defaults) through `bot/quick_settings.py`, and hands over to `load_settings` whenever a value
is one the quick reader does not accept as it stands, so every error and its message still
come from the model.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings_model import Settings

DEFAULT_DB = Path("rotation.db")
DEFAULT_FRED_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"
DEFAULT_STOOQ_URL = "https://stooq.com/q/d/l/"
STOOQ_PREFIX = "stooq:"
STOOQ_SYMBOL = re.compile(r"\^?[a-z0-9][a-z0-9._-]*")
DEFAULT_FRENCH_URL = (
    "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp/25_Portfolios_5x5_CSV.zip"
)
# Yahoo symbols: letters, digits, `.`, `-`, `=`; indices start with `^` (^GSPC, BRK-B, EURUSD=X).
# Instruments that track each other: a real move of one shows in the others the same day.
DEFAULT_LINKS = (("^RUT", "IWM", "IWC", "IJR"), ("^GSPC", "SPY", "OEF", "IWB", "RSP", "QQQ"))
SYMBOL_PATTERN = re.compile(r"^\^?[A-Z0-9][A-Z0-9.\-=]{0,14}$")
# What discord.py's Webhook.from_url accepts; anything else would fail at the first alert.
DISCORD_WEBHOOK = re.compile(r"discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/[A-Za-z0-9.\-_]{60,}")


def __getattr__(name: str) -> Any:
    """`Settings`, `CommaList` and `format_errors` come from the model, imported on first use."""
    if name in ("Settings", "CommaList", "format_errors"):
        from bot import settings_model

        return getattr(settings_model, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Destinations:
    """Which platforms the settings send to (shared by `Settings` and the quick reader's)."""

    if TYPE_CHECKING:  # the fields of both; annotations here would become pydantic fields
        discord_bot_token: Any
        discord_channel_ids: tuple[str, ...]
        discord_webhook_url: Any
        slack_bot_token: Any
        slack_channel: str | None
        slack_webhook_url: Any

    @property
    def discord_enabled(self) -> bool:
        """True when a Discord destination is configured."""
        has_bot = self.discord_bot_token is not None and bool(self.discord_channel_ids)
        return has_bot or self.discord_webhook_url is not None

    @property
    def slack_enabled(self) -> bool:
        """True when a Slack destination is configured."""
        has_bot = self.slack_bot_token is not None and self.slack_channel is not None
        return has_bot or self.slack_webhook_url is not None


class ConfigError(Exception):
    """Configuration is invalid; `lines` holds one readable line per problem."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load_settings(env_file: str | Path | None = ".env", **overrides: object) -> Settings:
    """Read and validate settings once; raise ConfigError with one line per problem."""
    from pydantic import ValidationError

    from bot.settings_model import Settings, format_errors

    try:
        # Keyword overrides (command-line flags) win over the environment and are validated too.
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as error:
        raise ConfigError(format_errors(error)) from None


def load_settings_quickly(env_file: str | Path | None = ".env", **overrides: object) -> Settings:
    """`load_settings` without pydantic when every value is one the quick reader accepts."""
    from bot.quick_settings import read_quickly

    quick = read_quickly(read_variables(env_file), overrides)
    return quick if quick is not None else load_settings(env_file, **overrides)


def read_variables(env_file: str | Path | None) -> dict[str, str | None]:
    """The variables as pydantic-settings sees them: names lower case, empty values dropped,
    the environment over `.env` (read by python-dotenv, as pydantic-settings reads it)."""
    variables: dict[str, str | None] = {}
    if env_file is not None:
        path = Path(env_file).expanduser()
        if path.is_file() or path.is_fifo():
            from dotenv import dotenv_values

            variables.update(_named(dotenv_values(path, encoding="utf-8")))
    variables.update(_named(os.environ))
    return variables


def _named(variables: Mapping[str, str | None]) -> dict[str, str | None]:
    return {name.lower(): value for name, value in variables.items() if value != ""}


def test_crash_at() -> str:
    """`ROTATION_TEST_CRASH_AT` (`<point>:<n>`, tests only: see bot/crash_points.py), or ""."""
    return os.environ.get("ROTATION_TEST_CRASH_AT", "")
