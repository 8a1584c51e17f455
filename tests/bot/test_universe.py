"""configured_symbols and the symbol check shared by the CLI."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.sources.universe import DEFAULT_SYMBOLS, configured_symbols, normalize_symbol


def test_default_universe() -> None:
    assert configured_symbols(load_settings(env_file=None)) == [
        "IWC", "OEF", "SPY", "IWM", "IWB", "IJR", "RSP", "QQQ",
        "^RUT", "^GSPC", "^IRX", "^TNX", "^VIX",
    ]  # fmt: skip


def test_extras_from_settings_and_rules_are_added_once_upper_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROTATION_SYMBOLS", "xlk, spy ,^dji")
    symbols = configured_symbols(load_settings(env_file=None), extra=["iwm", "XLK", " mdy "])
    assert symbols == [*DEFAULT_SYMBOLS, "XLK", "^DJI", "MDY"]


@pytest.mark.parametrize(
    ("text", "symbol"),
    [("iwm", "IWM"), (" ^gspc ", "^GSPC"), ("brk-b", "BRK-B"), ("eurusd=x", "EURUSD=X"),
     ("azt.ol", "AZT.OL"), ("0P000071W8.TO", "0P000071W8.TO")],
)  # fmt: skip
def test_valid_symbols_are_upper_cased(text: str, symbol: str) -> None:
    assert normalize_symbol(text) == symbol


@pytest.mark.parametrize(
    "text", ["", "^", "SP Y", "$SPY", "-SPY", "^^RUT", "IWM;DROP", "ABCDEFGHIJKLMNOP", "IW\tM"]
)
def test_invalid_symbols_are_refused_with_a_readable_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"^invalid symbol .*: use letters, digits"):
        normalize_symbol(text)
