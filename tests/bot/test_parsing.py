"""Strict chat-argument parsers: normalised values or one helpful CommandError line."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat.parsing import (
    ALL,
    CommandError,
    close_matches,
    parse_duration,
    parse_mode,
    parse_rule_id,
    parse_symbol,
    parse_window,
    suggestion,
)

RULES = ["iwc-over-oef-ytd", "rut-ath", "iwm-ath", "fed-cut"]
SYMBOLS = ["IWC", "IWM", "OEF", "SPY", "^RUT", "^GSPC"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("iwm", "IWM"),
        ("  spy ", "SPY"),
        ("^rut", "^RUT"),
        ("brk-b", "BRK-B"),
        ("brk.b", "BRK.B"),
        ("eurusd=x", "EURUSD=X"),
        ("ES=F", "ES=F"),
    ],
)
def test_symbols_normalised(raw: str, expected: str) -> None:
    assert parse_symbol(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", None, "^", "-IWM", "IW M", "<@1>", "@everyone", "IWM;DROP", "A" * 17, "^^RUT"],
)
def test_bad_symbols_rejected(raw: str | None) -> None:
    with pytest.raises(CommandError):
        parse_symbol(raw)


def test_unknown_symbol_suggests_close_matches() -> None:
    assert "Did you mean IWM" in suggestion("IWN", SYMBOLS)


def test_unknown_symbol_without_match_has_no_suggestion() -> None:
    assert "Did you mean" not in suggestion("ZZZZZZ", SYMBOLS)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "ytd"),
        ("", "ytd"),
        ("YTD", "ytd"),
        ("qtd", "qtd"),
        ("mtd", "mtd"),
        ("1m", "1m"),
        ("3M", "3m"),
        ("6m", "6m"),
        ("1y", "1y"),
        ("42d", "42d"),
        ("1d", "1d"),
        ("2520d", "2520d"),
        ("since:2020-03-23", "since:2020-03-23"),
        ("SINCE:2008-01-02", "since:2008-01-02"),
    ],
)
def test_windows(raw: str | None, expected: str) -> None:
    assert parse_window(raw, today=date(2026, 3, 2)) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("2y", "Unknown window"),
        ("0d", "out of range"),
        ("2521d", "out of range"),
        ("99999d", "out of range"),
        ("since:2020-02-30", "not a real date"),
        ("since:1850-01-01", "after 1900"),
        ("since:2026-03-02", "before today"),
        ("since:2020-3-1", "Unknown window"),
        ("-5d", "Unknown window"),
    ],
)
def test_bad_windows(raw: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_window(raw, today=date(2026, 3, 2))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("1d", timedelta(days=1)),
        ("2W", timedelta(weeks=2)),
        (" 90d ", timedelta(days=90)),
        ("1m", timedelta(minutes=1)),
    ],
)
def test_durations(raw: str, expected: timedelta) -> None:
    assert parse_duration(raw) == expected


@pytest.mark.parametrize("raw", ["", "0m", "91d", "13w", "1y", "1.5h", "h", "forever", "-1d"])
def test_bad_durations(raw: str) -> None:
    with pytest.raises(CommandError):
        parse_duration(raw)


def test_rule_ids() -> None:
    assert parse_rule_id("rut-ath", RULES) == "rut-ath"
    assert parse_rule_id("RUT-ATH", RULES) == "rut-ath"
    assert parse_rule_id("All", RULES, allow_all=True) == ALL


def test_all_only_where_allowed() -> None:
    with pytest.raises(CommandError, match="Unknown rule"):
        parse_rule_id("all", RULES)


def test_unknown_rule_suggests() -> None:
    with pytest.raises(CommandError, match="Did you mean rut-ath"):
        parse_rule_id("rut-ahh", RULES)


def test_garbage_rule_id() -> None:
    with pytest.raises(CommandError, match="not a rule id"):
        parse_rule_id("<@&1> drop", RULES)


def test_modes() -> None:
    assert parse_mode(None) == "mention"
    assert parse_mode("DM") == "dm"
    with pytest.raises(CommandError, match="mention"):
        parse_mode("pager")


def test_errors_are_one_short_line() -> None:
    with pytest.raises(CommandError) as caught:
        parse_window("x\ny\r\n" + "z" * 40)
    assert "\n" not in caught.value.message and "\r" not in caught.value.message
    assert len(caught.value.message) < 200


def test_too_long_argument() -> None:
    with pytest.raises(CommandError, match="too long"):
        parse_symbol("A" * 500)


def test_close_matches_case_insensitive() -> None:
    assert close_matches("^rutt", SYMBOLS) == ["^RUT"]


ARGS = st.one_of(st.none(), st.text(max_size=80), st.sampled_from(["ytd", "1d", "all", "^RUT"]))


@settings(max_examples=3000, deadline=None)
@given(raw=ARGS)
def test_parsers_raise_only_command_error(raw: str | None) -> None:
    parsers = [
        parse_symbol,
        lambda r: parse_window(r, today=date(2026, 3, 2)),
        parse_duration,
        lambda r: parse_rule_id(r, RULES, allow_all=True),
        parse_mode,
    ]
    for parser in parsers:
        try:
            parser(raw)
        except CommandError as error:
            assert "\n" not in error.message and error.message


@pytest.mark.parametrize("raw", ["straße", "ＩＷＭ", "١٢d"])
def test_non_ascii_never_normalises_into_valid_input(raw: str) -> None:
    with pytest.raises(CommandError):
        parse_symbol(raw)
    with pytest.raises(CommandError):
        parse_window(raw)
