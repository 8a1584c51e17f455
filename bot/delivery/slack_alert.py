"""An alert as Slack Block Kit (with its buttons) and fallback text. No Slack SDK here.

Every text from rules or data is escaped here, once; the only mentions built are the
subscriber pings, via `mention_user`. `bot.delivery.slack` posts these blocks, and the chat
side (`bot.chat.slack`) answers the buttons by their action ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.delivery.limits import (
    SLACK_BLOCKS,
    SLACK_CONTEXT_ELEMENTS,
    SLACK_FALLBACK_TEXT,
    SLACK_FIELD_TEXT,
    fit_slack_blocks,
    slack_field_sections,
    slack_header,
    slack_text_sections,
    trim,
)
from bot.delivery.message import AlertMessage, subscriber_ids
from bot.platforms import SLACK, escape_slack
from bot.safety import mention_user

Block = dict[str, Any]

ACK_ACTION = "rot_ack"
ACK_BLOCK = "rot_acknowledged"  # the context block an acknowledged alert gets (once)
MUTE_ACTION = "rot_mute1d"
ACTIONS_BLOCK = "rot_alert_actions"
BUTTON_VALUE = 2000

_EMOJI = {"up": ":large_green_circle:", "down": ":red_circle:", "neutral": ":white_circle:"}


def to_slack_blocks(message: AlertMessage) -> list[Block]:
    """The alert as Block Kit within Slack's limits, every text escaped (no stray pings)."""
    emoji = _EMOJI.get(message.direction, _EMOJI["neutral"])
    fields = [f"*{escape_slack(name)}*\n{escape_slack(value)}" for name, value in message.fields]
    blocks = [slack_header(escape_slack(message.headline))]
    blocks += slack_field_sections(fields)
    blocks += slack_text_sections(escape_slack(message.description))
    if message.track_record:
        blocks.append(context_block([f"*Track record* {escape_slack(message.track_record)}"]))
    blocks += slack_text_sections(subscriber_pings(message))
    context = f"{emoji} data {message.data_date.isoformat()} · {escape_slack(message.footer)}"
    blocks.append(context_block([context]))
    return fit_slack_blocks(blocks)


def alert_blocks(message: AlertMessage) -> list[Block]:
    """The alert's blocks plus its buttons (Acknowledge for a firing, Mute 1 day)."""
    blocks = to_slack_blocks(message)
    if len(blocks) >= SLACK_BLOCKS:
        blocks = [*blocks[: SLACK_BLOCKS - 3], *blocks[-2:]]  # room for the buttons
    return [*blocks, alert_actions(message)]


def alert_actions(message: AlertMessage) -> Block:
    """Buttons: Acknowledge (value = alert key) on firings, Mute 1 day (value = rule id)."""
    elements = []
    if message.kind == "fired":
        elements.append(_button("Acknowledge", ACK_ACTION, message.key, style="primary"))
    mute = _button("Mute 1 day", MUTE_ACTION, message.rule_id)
    mute["confirm"] = _confirm(
        f"Silence {escape_slack(message.rule_id)} for one day (admins only)?"
    )
    elements.append(mute)
    return {"type": "actions", "block_id": ACTIONS_BLOCK, "elements": elements}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    button = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value[:BUTTON_VALUE],
    }
    return {**button, "style": style} if style else button


def _confirm(question: str) -> Block:
    return {
        "title": {"type": "plain_text", "text": "Mute this signal?"},
        "text": {"type": "plain_text", "text": trim(question, 300)},
        "confirm": {"type": "plain_text", "text": "Mute"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def subscriber_pings(message: AlertMessage) -> str:
    """`<@U…>` for each subscriber the message may ping, space-separated ('' for none)."""
    return " ".join(mention_user(user, SLACK.name) for user in subscriber_ids(message, SLACK.name))


def fallback_text(message: AlertMessage) -> str:
    """The notification text shown where blocks are not (push notifications, screen readers).

    It carries the subscriber pings too: the push notification is built from this text.
    """
    text = escape_slack(f"{message.headline} ({message.data_date.isoformat()})")
    pings = subscriber_pings(message)
    # Pings go first so trimming a long headline can never cut one in half.
    return trim(f"{pings} {text}" if pings else text, SLACK_FALLBACK_TEXT)


def context_block(texts: Sequence[str]) -> Block:
    """A context block of up to 10 mrkdwn texts."""
    elements = [
        {"type": "mrkdwn", "text": trim(text, SLACK_FIELD_TEXT)}
        for text in texts[:SLACK_CONTEXT_ELEMENTS]
    ]
    return {"type": "context", "elements": elements}


def acknowledged_note_blocks(blocks: Sequence[Block], note: str) -> list[Block]:
    """An alert's blocks without the Acknowledge button, ending with `note` (escaped mrkdwn)."""
    kept = [_without_ack_button(b) for b in blocks if b.get("block_id") != ACK_BLOCK]
    kept = [b for b in kept if b.get("type") != "actions" or b.get("elements")]
    text = f":white_check_mark: {note}"
    return [*kept[: SLACK_BLOCKS - 1], {**context_block([text]), "block_id": ACK_BLOCK}]


def _without_ack_button(block: Block) -> Block:
    if block.get("type") != "actions":
        return block
    elements = [e for e in block.get("elements", []) if e.get("action_id") != ACK_ACTION]
    return {**block, "elements": elements}
