"""Replies as Discord payloads: within every limit and never a mention, whatever the text."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat.discord.format import acknowledged_embed, format_reply, signals_embeds
from bot.chat.help_text import help_reply
from bot.chat.replies import (
    BacktestSummary,
    EventRow,
    LegReply,
    SignalDetail,
    SignalRow,
    SignalsReply,
    SpreadReply,
    StatusReply,
)
from bot.delivery.discord_alert import ack_custom_id, key_from_footer
from bot.safety import find_mentions, sanitize
from signals.models import ChartSpec
from tests.fakes.discord_api import check_limits

DAY = date(2026, 3, 2)
CHART = ChartSpec("relative", ("A", "B"), date(2026, 1, 2), DAY)
hostile = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["@everyone", "@here", "<@123456789012345678>", "<@&42>", "<#9>", "</x:1>"]),
)
numbers = st.floats(-1e9, 1e9, allow_nan=False)


def row(rule_id: str = "r", summary: str = "ok", title: str = "T") -> SignalRow:
    return SignalRow(
        rule_id, title, "new_high", "OK", "firing", "", 1.0, 0.0, "%", summary, DAY, DAY, None
    )


def texts(payload: dict) -> list[str]:
    found = [payload["content"] or ""]
    for embed in payload["embeds"]:
        found += [embed.get("title", ""), embed.get("description", "")]
        found.append(embed.get("footer", {}).get("text", ""))
        found += [f["name"] + f["value"] for f in embed.get("fields", [])]
    return found


def assert_safe_and_fits(payload: dict) -> None:
    assert all(find_mentions(text, "discord") == [] for text in texts(payload))
    assert check_limits(payload, {"chart.png": b"png"}) == {}


@settings(max_examples=150, deadline=None)
@given(hostile, hostile, numbers, st.lists(hostile, max_size=3))
def test_spread_payload_is_safe_and_fits(a: str, b: str, bps: float, notes: list[str]) -> None:
    legs = [LegReply(s, bps / 100, DAY, DAY, 1.0, 2.0) for s in (a, b)]
    reply = SpreadReply(*legs, "ytd", "total", DAY, bps, bps / 100, CHART, a, tuple(notes))
    assert_safe_and_fits(format_reply(sanitize(reply, "discord"), chart=True))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(hostile, hostile), max_size=80), hostile)
def test_signals_payload_is_safe_and_fits(rows: list[tuple[str, str]], text: str) -> None:
    reply = SignalsReply(tuple(row(rule, summary) for rule, summary in rows), text)
    assert_safe_and_fits(format_reply(sanitize(reply, "discord")))


@settings(max_examples=100, deadline=None)
@given(hostile, hostile, st.lists(st.tuples(hostile, hostile), max_size=30))
def test_signal_detail_payload_is_safe_and_fits(
    title: str, description: str, parameters: list[tuple[str, str]]
) -> None:
    events = (EventRow("fired", DAY, 1.5, title),)
    backtest = BacktestSummary(date(2000, 1, 1), 3, 2, DAY, DAY)
    detail = SignalDetail(
        row(title=title), description, tuple(parameters), events, backtest, CHART, 2, title
    )
    assert_safe_and_fits(format_reply(sanitize(detail, "discord"), chart=True))


@settings(max_examples=50, deadline=None)
@given(st.lists(hostile, max_size=40), st.lists(hostile, max_size=5))
def test_status_payload_is_safe_and_fits(lines: list[str], problems: list[str]) -> None:
    reply = StatusReply(not problems, tuple(problems), tuple(lines), None, "Status")
    assert_safe_and_fits(format_reply(sanitize(reply, "discord")))


def test_many_signals_end_with_a_count_not_silence() -> None:
    reply = SignalsReply(tuple(row(f"rule-{i}", "x" * 120) for i in range(200)), "200 signals")
    embeds = signals_embeds(reply)
    assert embeds[-1]["description"].endswith("more: ask /signal ID.")
    assert "rule-0" in embeds[0]["description"]
    assert check_limits({"embeds": embeds}, {}) == {}


def test_help_lists_every_command() -> None:
    payload = format_reply(help_reply())
    [embed] = payload["embeds"]
    assert embed["description"].count("`/") == 11  # with /rule (issue 14)
    assert [f["name"] for f in embed["fields"]] == ["Windows", "Examples"]


def test_acknowledged_field_replaces_an_earlier_one() -> None:
    at = datetime(2026, 3, 2, 21, 0, tzinfo=UTC).isoformat()
    embed = {"title": "x", "fields": [{"name": "Measure", "value": "1", "inline": True}]}
    once = acknowledged_embed(embed, "alice", at)
    twice = acknowledged_embed(once, "bob", at)
    assert [f["name"] for f in twice["fields"]] == ["Measure", "Acknowledged"]
    assert twice["fields"][-1]["value"] == "by bob at <t:1772485200:f>"


def test_alert_key_from_id_or_footer() -> None:
    assert ack_custom_id("r:2026-03-02:fired") == "rot:ack:r:2026-03-02:fired"
    footer = [{"footer": {"text": "rule r · alert r:2026-03-02:fired"}}]
    assert key_from_footer(footer) == "r:2026-03-02:fired"
    assert key_from_footer([{"title": "no footer"}]) == ""
