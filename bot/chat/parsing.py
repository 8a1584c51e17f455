"""Strict parsers for chat command arguments, shared by the Discord and Slack adapters.

Every parser returns a normalised value or raises `CommandError` with one helpful line.
Nothing here touches the database: callers pass the known symbols and rule ids in.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from datetime import date, timedelta
from typing import Literal

from bot.config import SYMBOL_PATTERN

MAX_ARG_LENGTH = 64
MAX_SESSIONS = 2520  # ten years of sessions: enough for any chat question, cheap to answer
MIN_MUTE = timedelta(minutes=1)
MAX_MUTE = timedelta(days=90)
EARLIEST_DATE = date(1900, 1, 1)

FIXED_WINDOWS = ("ytd", "qtd", "mtd", "1m", "3m", "6m", "1y")
WINDOW_HELP = "ytd, qtd, mtd, 1m, 3m, 6m, 1y, Nd (N sessions, 1-2520) or since:YYYY-MM-DD"
ALL = "all"
# The reply to any failure that is not a CommandError (the error itself is logged).
GENERIC_ERROR = "Sorry, that failed on our side; it has been logged. Please try again later."

SubscriptionMode = Literal["dm", "mention"]
MODES: tuple[SubscriptionMode, ...] = ("dm", "mention")

_SESSIONS = re.compile(r"^(\d{1,5})d$", re.ASCII)
_SINCE = re.compile(r"^since:(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_DURATION = re.compile(r"^(\d{1,6})([mhdw])$", re.ASCII)
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,79}$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")


class CommandError(Exception):
    """A user-facing problem with a command: one line, safe to show as the reply."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))

    @property
    def message(self) -> str:
        """The one-line reply."""
        return str(self.args[0])


def one_line(text: str, limit: int = 300) -> str:
    """Collapse control characters and newlines, and cap the length."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def echo(text: str, limit: int = 24) -> str:
    """User input quoted back in an error message: one line and short."""
    return "`" + one_line(text, limit).replace("`", "'") + "`"


def close_matches(word: str, candidates: Collection[str], n: int = 3) -> list[str]:
    """Up to `n` candidates that look like `word` (case-insensitive), best first."""
    by_key = {candidate.casefold(): candidate for candidate in candidates}
    found = difflib.get_close_matches(word.casefold(), list(by_key), n=n, cutoff=0.6)
    return [by_key[key] for key in found]


def suggestion(word: str, candidates: Collection[str]) -> str:
    """` Did you mean X or Y?` or an empty string."""
    matches = close_matches(word, candidates)
    return f" Did you mean {' or '.join(matches)}?" if matches else ""


def _clean(text: str | None, what: str) -> str:
    value = (text or "").strip()
    if not value:
        raise CommandError(f"Missing {what}.")
    if len(value) > MAX_ARG_LENGTH:
        raise CommandError(f"That {what} is too long ({len(value)} characters).")
    return value


def parse_symbol(text: str | None) -> str:
    """An upper-case ticker such as `IWM`, `^RUT`, `BRK-B` or `EURUSD=X`."""
    raw = _clean(text, "symbol")
    # isascii before upper(): str.upper() maps some letters to ASCII ("ß" -> "SS").
    symbol = raw.upper() if raw.isascii() else raw
    if not symbol.isascii() or not SYMBOL_PATTERN.match(symbol):
        raise CommandError(
            f"{echo(symbol)} is not a ticker: use letters, digits, `.`, `-`, `=` "
            "(an index may start with `^`), at most 16 characters."
        )
    return symbol


def parse_window(text: str | None, *, today: date | None = None) -> str:
    """A window name: ytd qtd mtd 1m 3m 6m 1y, `Nd` (1-2520 sessions) or `since:YYYY-MM-DD`."""
    window = _clean(text or "ytd", "window").lower()
    if window in FIXED_WINDOWS:
        return window
    if match := _SESSIONS.match(window):
        return _session_window(int(match[1]))
    if match := _SINCE.match(window):
        return "since:" + _since_date(match, today).isoformat()
    raise CommandError(f"Unknown window {echo(window)}: use {WINDOW_HELP}.")


def _session_window(sessions: int) -> str:
    if not 1 <= sessions <= MAX_SESSIONS:
        raise CommandError(f"A window of {sessions} sessions is out of range (1-{MAX_SESSIONS}).")
    return f"{sessions}d"


def _since_date(match: re.Match[str], today: date | None) -> date:
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise CommandError(f"{echo(match[0])} is not a real date.") from None
    if day < EARLIEST_DATE:
        raise CommandError(f"since: must be after {EARLIEST_DATE.isoformat()}.")
    if today is not None and day >= today:
        raise CommandError("since: must be a date before today.")
    return day


def parse_duration(text: str | None) -> timedelta:
    """A mute duration such as `30m`, `4h`, `1d`, `2w`, between 1 minute and 90 days."""
    raw = _clean(text, "duration").lower().replace(" ", "")
    match = _DURATION.match(raw)
    if match is None:
        raise CommandError(f"{echo(raw)} is not a duration: use e.g. 30m, 4h, 1d or 2w.")
    duration = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if not MIN_MUTE <= duration <= MAX_MUTE:
        raise CommandError("A mute lasts between 1 minute (1m) and 90 days (90d).")
    return duration


def parse_rule_id(text: str | None, known: Collection[str], *, allow_all: bool = False) -> str:
    """A known rule id (case-insensitive), or `all` when allowed; close matches on a miss."""
    raw = _clean(text, "rule id")
    lowered = raw.lower()
    if allow_all and lowered == ALL:
        return ALL
    if raw in known:
        return raw
    by_lower = {rule_id.lower(): rule_id for rule_id in known}
    if lowered in by_lower:
        return by_lower[lowered]
    hint = suggestion(raw, known) or (" Try `all`." if allow_all else " See /signals.")
    if not _RULE_ID.match(lowered):
        raise CommandError(f"{echo(raw)} is not a rule id.{hint}")
    raise CommandError(f"Unknown rule {echo(raw)}.{hint}")


def parse_mode(text: str | None) -> SubscriptionMode:
    """How a subscriber is told: `mention` in the channel (default) or `dm`."""
    raw = (text or "mention").strip().lower()
    if raw in MODES:
        return raw  # type: ignore[return-value]
    raise CommandError(f"Unknown mode {echo(raw)}: use `mention` or `dm`.")
