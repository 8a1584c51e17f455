"""How each setting's text becomes its value: shared by the pydantic model and the quick reader.

Each function takes what the environment (or a flag) gave and returns the value, or raises
ValueError with the message `config error: NAME: ...` shows. Both readers call the same
functions, so a value means the same whichever of them read it.
"""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

from bot.config import DISCORD_WEBHOOK, STOOQ_PREFIX, STOOQ_SYMBOL, SYMBOL_PATTERN
from storage.urls import is_database_url, looks_like_other_url

# Settings whose values are words: accepted in any case (`info`, `HTTP`).
UPPER_WORDS = ("log_level",)
LOWER_WORDS = ("log_format", "discord_mode", "slack_mode")
COMMA_LISTS = (
    "extra_symbols",
    "fred_series",
    "discord_channel_ids",
    "discord_admin_ids",
    "slack_admin_ids",
    "hold_series",
    "quality_exempt",
    "weekday_symbols",
    "second_source",
)


def french_off(value: object) -> object:
    """`off` or `none` turns the French library download off (empty means the default)."""
    off = isinstance(value, str) and value.strip().lower() in ("off", "none")
    return "" if off else value


def split_commas(value: object) -> object:
    """Accept `A,B , C` in the environment as well as real sequences."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def upper_symbols(value: tuple[str, ...]) -> tuple[str, ...]:
    """Symbols are stored upper case everywhere; a typo fails at start, not at Yahoo."""
    symbols = tuple(symbol.upper() for symbol in value)
    bad = [symbol for symbol in symbols if not SYMBOL_PATTERN.fullmatch(symbol)]
    if bad:
        raise ValueError(f"invalid symbols {', '.join(bad)} (letters, digits, . - =, or ^ first)")
    return symbols


def symbol_pairs(value: tuple[str, ...]) -> tuple[str, ...]:
    """Each entry is SYMBOL=FRED series (`^GSPC=SP500`, upper case) or SYMBOL=stooq:symbol
    (`^RUT=stooq:^rut`, the Stooq symbol lower case)."""
    return tuple(_second_source_pair(entry) for entry in value)


def split_groups(value: object) -> object:
    """`^RUT IWM IWC; ^GSPC SPY`: groups separated by `;`, members by spaces or commas."""
    if not isinstance(value, str):
        return value
    groups = (group.replace(",", " ").split() for group in value.split(";"))
    return tuple(tuple(s.upper() for s in group) for group in groups if group)


def path_or_url(value: object) -> object:
    """A `postgresql://` URL stays a URL; anything else is a file path; other URLs fail."""
    if is_database_url(value):
        return value
    if looks_like_other_url(value):
        scheme = str(value).split("://", 1)[0]
        raise ValueError(f"must be a file path or a postgresql:// URL, not a {scheme}:// URL")
    path = Path(value) if isinstance(value, str) else value
    if isinstance(path, Path) and not path.parent.is_dir():
        # A typo in a directory would otherwise create a new, empty database elsewhere.
        raise ValueError(
            f"the directory {str(path.parent)!r} does not exist (create it, or fix the path)"
        )
    return path


def upper_word(value: object) -> object:
    """`info` means INFO: a level is not worth refusing a start over its case."""
    return value.strip().upper() if isinstance(value, str) else value


def lower_word(value: object) -> object:
    """`HTTP` means http, `JSON` json."""
    return value.strip().lower() if isinstance(value, str) else value


def clock_time(value: object) -> object:
    """A 24-hour HH:MM; the error names the format (pydantic's names a character)."""
    if not isinstance(value, str):
        return value
    if re.fullmatch(r"\d{1,2}:\d{2}(:00)?", value.strip()):
        hours, minutes = (int(part) for part in value.strip().split(":")[:2])
        if hours < 24 and minutes < 60:
            return time(hours, minutes)
    raise ValueError(f"must be a 24-hour time HH:MM (e.g. 17:30), got {value!r}")


def discord_webhook(value: object) -> object:
    """Refused at start, not at the first alert; the URL is a secret, never echoed."""
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    if isinstance(text, str) and not DISCORD_WEBHOOK.search(text):
        raise ValueError(
            "is not a Discord webhook URL (https://discord.com/api/webhooks/<id>/<token>, "
            "as the channel's Integrations > Webhooks copies it)"
        )
    return value


def iso_date(value: object) -> object:
    """A YYYY-MM-DD date, checked at start rather than at the first refresh."""
    if not isinstance(value, str):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"must be a date YYYY-MM-DD, got {value!r}") from None


def numeric_snowflakes(value: tuple[str, ...]) -> tuple[str, ...]:
    """Discord ids are numeric snowflakes; catch a pasted channel name early."""
    bad = [item for item in value if not item.isdigit()]
    if bad:
        raise ValueError(f"Discord ids must be numbers, got {', '.join(bad)}")
    return value


def _second_source_pair(entry: str) -> str:
    """One ROTATION_SECOND_SOURCE entry, normalised, or a ValueError naming it."""
    symbol, _, other = entry.partition("=")
    if not symbol or not other or "=" in other:
        raise ValueError(
            f"use SYMBOL=FRED series (^GSPC=SP500) or SYMBOL=stooq:symbol (^RUT=stooq:^rut), "
            f"not {entry}"
        )
    if not other.lower().startswith(STOOQ_PREFIX):
        return entry.upper()
    stooq = other[len(STOOQ_PREFIX) :].strip().lower()
    if not STOOQ_SYMBOL.fullmatch(stooq):
        raise ValueError(
            f"{entry}: a Stooq symbol is an index like ^rut or a US fund like iwm.us, not {stooq!r}"
        )
    return f"{symbol.upper()}={STOOQ_PREFIX}{stooq}"
