"""Which symbols the bot keeps cached: the default universe plus configured extras."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from bot.config import SYMBOL_PATTERN

if TYPE_CHECKING:  # the model imports pydantic: a tenth of a CSV import, which reads no field
    from bot.config import Settings

# ETFs and indices the built-in rotation statements talk about, plus rates and volatility.
DEFAULT_SYMBOLS = (
    "IWC", "OEF", "SPY", "IWM", "IWB", "IJR", "RSP", "QQQ",
    "^RUT", "^GSPC", "^IRX", "^TNX", "^VIX",
)  # fmt: skip


def normalize_symbol(text: str) -> str:
    """Upper-case a symbol and check it; raise ValueError with a readable message if bad."""
    symbol = text.strip().upper()
    if not SYMBOL_PATTERN.fullmatch(symbol):
        raise ValueError(
            f"invalid symbol {text!r}: use letters, digits, '.', '-', '=' "
            "(up to 15), optionally after '^' for an index"
        )
    return symbol


def configured_symbols(settings: Settings, extra: Iterable[str] = ()) -> list[str]:
    """Default universe + ROTATION_SYMBOLS + `extra`, upper case, de-duplicated, in order."""
    symbols = (*DEFAULT_SYMBOLS, *settings.extra_symbols, *extra)
    return list(dict.fromkeys(symbol.strip().upper() for symbol in symbols if symbol.strip()))
