"""The words of a `/rule` preview both adapters show: backtest and event lines, no markup."""

from __future__ import annotations

from bot.chat.on_call import short_time
from bot.chat.replies import RulePreview

SAVE, CANCEL = "save", "cancel"


def backtest_line(preview: RulePreview) -> str:
    """`fired 12 times, reversed 11 (first 2001-03-02, last 2025-11-20)`, or why there is none."""
    summary = preview.backtest
    if summary is None:
        return "no backtest: no stored prices for this rule's symbols yet"
    if summary.fired == 0:
        return f"never fired since {summary.since}"
    return (
        f"fired {summary.fired} times, reversed {summary.reversed} "
        f"(first {summary.first_fired}, last {summary.last_fired})"
    )


def event_lines(preview: RulePreview) -> list[str]:
    """The last five backtest events, newest first: `2025-11-20 fired (412.3)`."""
    if not preview.last_events:
        return ["none since 2000"]
    return [f"{e.date} {e.kind} ({e.measure:,.1f})" for e in preview.last_events]


def expiry_line(preview: RulePreview) -> str:
    """Until when Save and Cancel work."""
    return f"Save or Cancel before {short_time(preview.expires_at)}; nothing is stored until Save."


def heading(preview: RulePreview) -> str:
    """`New rule iwm-iwb-42d-above-400bps` or `Changes to ...`."""
    verb = "New rule" if preview.action == "new" else "Changes to"
    return f"{verb} {preview.rule_id}"
