"""Block Kit for Slack command replies and the acknowledged alert. No Slack SDK here.

Command replies arrive already passed through `bot.safety.sanitize(reply, "slack")`, so their
strings are escaped once and are never escaped again here. The alert itself is built in
`bot/delivery/slack_alert.py`; the only mention built here is the acknowledging user's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.chat import on_call
from bot.chat.replies import (
    AckReply,
    HelpReply,
    Reply,
    RulePreview,
    SignalDetail,
    SignalRow,
    SignalsReply,
    SpreadReply,
    StatusReply,
    SubscriptionsReply,
)
from bot.chat.slack.rules import preview_blocks, track_record_text
from bot.delivery.limits import (
    SLACK_FALLBACK_TEXT,
    SLACK_SECTION_TEXT,
    fit_slack_blocks,
    slack_field_sections,
    slack_header,
    slack_text_sections,
    split_text,
    trim,
)
from bot.delivery.slack_alert import Block, acknowledged_note_blocks, context_block
from bot.platforms import SLACK, escape_slack
from bot.safety import is_user_id, mention_user

_PHASE = {"firing": ":red_circle:", "pending": ":large_yellow_circle:"}


def acknowledged_blocks(blocks: Sequence[Block], ack: AckReply) -> list[Block]:
    """The alert's blocks without the Acknowledge button, saying who acknowledged it and when."""
    # An earlier acknowledgement line is replaced, never repeated.
    note = f"Acknowledged by {acknowledger(ack)} at {short_time(ack.acked_at)}"
    return acknowledged_note_blocks(blocks, note)


def acknowledger(ack: AckReply) -> str:
    """Who acknowledged: a Slack mention (shown as the name) or the other platform's id."""
    if ack.platform == SLACK.name and is_user_id(ack.user_id, SLACK.name):
        return mention_user(ack.user_id, SLACK.name)
    return escape_slack(f"{ack.user_id} on {ack.platform}")


def short_time(stamp: str) -> str:
    """`2026-03-02T14:30:00+00:00` as `2026-03-02 14:30 UTC` (the input if unparseable)."""
    try:
        return on_call.short_time(stamp)
    except ValueError:
        return escape_slack(stamp)


# Command replies (already sanitized)


def reply_blocks(reply: Reply) -> list[Block]:
    """Block Kit for a sanitized command reply; a plain section for the simple ones."""
    formatter = _FORMATTERS.get(type(reply))
    blocks = formatter(reply) if formatter else slack_text_sections(reply.text)
    return fit_slack_blocks(blocks or slack_text_sections("-"))


def reply_text(reply: Reply) -> str:
    """The fallback text of a sanitized reply."""
    return trim(reply.text or "-", SLACK_FALLBACK_TEXT)


def text_blocks(text: str) -> list[Block]:
    """One plain line (already escaped) as blocks."""
    return slack_text_sections(trim(text, SLACK_SECTION_TEXT) or "-")


def _spread_blocks(reply: SpreadReply) -> list[Block]:
    legs = [
        f"*{leg.symbol}*\n{leg.return_pct:+.2f}% ({leg.start} to {leg.end})"
        for leg in (reply.a, reply.b)
    ]
    spread = f"*Spread*\n{reply.spread_bps:+,.0f} bps ({reply.spread_pp:+.2f} pp)"
    basis = f"*Window*\n{reply.window}, {reply.basis} return, as of {reply.as_of}"
    blocks = [slack_header(f"{reply.a.symbol} vs {reply.b.symbol} ({reply.window})")]
    blocks += slack_field_sections([*legs, spread, basis])
    if reply.notes:
        blocks.append(context_block(list(reply.notes)))
    return blocks


def _signals_blocks(reply: SignalsReply) -> list[Block]:
    lines = [_signal_line(row) for row in reply.rows]
    return [*slack_text_sections(f"*{reply.text}*"), *slack_text_sections("\n".join(lines))]


def _signal_line(row: SignalRow) -> str:
    icon = _PHASE.get(row.phase, ":white_circle:")
    origin = f" _({row.origin})_" if row.origin else ""
    line = f"{icon} `{row.rule_id}`{origin} {row.phase}, {row.status}: {row.summary or row.reason}"
    if row.last_fired:
        line += f" · last fired {row.last_fired}"
    if row.muted_until:
        line += f" · muted until {short_time(row.muted_until)}"
    return line


def _detail_blocks(reply: SignalDetail) -> list[Block]:
    blocks = [slack_header(reply.row.title or reply.row.rule_id)]
    blocks += slack_text_sections(reply.text)
    blocks += slack_text_sections(reply.description)
    blocks += slack_field_sections([f"*{name}*\n{value}" for name, value in reply.parameters])
    events = [f"{e.date} {e.kind}: {e.title} ({e.measure:,.2f})" for e in reply.last_events]
    blocks += slack_text_sections("*Last events*\n" + ("\n".join(events) or "none"))
    if reply.track_record is not None:
        blocks += slack_text_sections(track_record_text(reply.track_record))
    facts = [f"rule `{reply.row.rule_id}`", f"{reply.subscribers} subscriber(s) here"]
    if reply.backtest is not None:
        backtest = reply.backtest
        facts.append(
            f"backtest since {backtest.since}: fired {backtest.fired}x, "
            f"reversed {backtest.reversed}x, last {backtest.last_fired or 'never'}"
        )
    return [*blocks, context_block(facts)]


def _subscriptions_blocks(reply: SubscriptionsReply) -> list[Block]:
    lines = [f"`{row.rule_id}` by {row.mode} since {row.since[:10]}" for row in reply.rows]
    return slack_text_sections("\n".join(lines) or reply.text)


def _status_blocks(reply: StatusReply) -> list[Block]:
    icon = ":white_check_mark:" if reply.ok else ":warning:"
    leader = [context_block([f"Leader: {reply.leader}"])] if reply.leader else []
    return [*slack_text_sections(f"{icon} {reply.text}"), *code_sections(reply.lines), *leader]


def code_sections(lines: Sequence[str]) -> list[Block]:
    """Lines in code blocks, each section within Slack's text limit."""
    limit = SLACK_SECTION_TEXT - 8
    chunks = split_text("\n".join(lines).replace("```", "'''"), limit) if lines else []
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{chunk}```"}}
        for chunk in chunks
        if chunk
    ]


def _help_blocks(reply: HelpReply) -> list[Block]:
    lines = [
        f"`{item.usage}` {item.description}{' (admins)' if item.admin_only else ''}"
        for item in reply.commands
    ]
    facts = [f"Windows: {reply.windows}"] if reply.windows else []
    if reply.examples:
        facts.append("Examples: " + ", ".join(f"`{example}`" for example in reply.examples))
    return [*slack_text_sections("\n".join(lines)), context_block(facts or ["-"])]


_FORMATTERS: dict[type, Callable[[Any], list[Block]]] = {
    SpreadReply: _spread_blocks,
    SignalsReply: _signals_blocks,
    SignalDetail: _detail_blocks,
    SubscriptionsReply: _subscriptions_blocks,
    StatusReply: _status_blocks,
    RulePreview: preview_blocks,
    HelpReply: _help_blocks,
}
