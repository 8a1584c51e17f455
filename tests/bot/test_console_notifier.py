"""The console destination: readable, coloured, and safe with markup-like rule names."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

from rich.console import Console

from bot.delivery.console import ConsoleNotifier
from bot.delivery.message import build_alert_message
from tests.fakes.delivery_kit import PNG, make_event


def printed(message, *, colour: bool = False) -> str:
    out = io.StringIO()
    notifier = ConsoleNotifier(Console(file=out, width=100, force_terminal=colour))
    notifier.send(message, idempotency_key=message.key)
    return out.getvalue()


def test_alert_shows_title_fields_date_and_rule():
    text = printed(build_alert_message(make_event(), PNG))
    for part in (
        "▲ IWC overtook OEF YTD",
        "IWC YTD",
        "+14.20%",
        "data 2026-11-20",
        "rule iwc_over_oef_ytd",
        "chart attached",
    ):
        assert part in text


def test_direction_sets_the_colour():
    up = printed(build_alert_message(make_event()), colour=True)
    down = printed(build_alert_message(replace(make_event(), direction="down")), colour=True)
    assert "\x1b[1;32m" in up and "\x1b[1;31m" in down


def test_markup_in_names_is_printed_literally():
    text = printed(build_alert_message(make_event(title="[bold red]@everyone[/] <@&123>")))
    assert "[bold red]@everyone[/] <@&123>" in text


def test_results_have_ids_and_nothing_to_look_up():
    notifier = ConsoleNotifier(Console(file=io.StringIO()))
    message = build_alert_message(make_event())
    assert notifier.send(message, idempotency_key="k").message_id == "console-1"
    assert notifier.find_existing("k", since=datetime.now(UTC)) is None
