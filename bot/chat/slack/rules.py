"""`/rule` on Slack without the SDK: the preview's blocks and its Save/Cancel presses.

The preview arrives sanitized (`bot.safety.sanitize(reply, "slack")`); its buttons carry the
preview token as their value. A press runs the core's `save_preview`/`cancel_preview`
(blocking: `bot/chat/slack/app.py` calls it in a thread) and never raises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.chat.on_call import make_actor
from bot.chat.parsing import GENERIC_ERROR, CommandError
from bot.chat.replies import RulePreview, TrackRecordReply
from bot.chat.rule_text import CANCEL, SAVE, backtest_line, event_lines, expiry_line, heading
from bot.delivery.limits import (
    SLACK_SECTION_TEXT,
    slack_field_sections,
    slack_header,
    slack_text_sections,
    trim,
)
from bot.delivery.slack_alert import Block, context_block
from bot.platforms import SLACK, escape_slack
from bot.safety import mention_user

if TYPE_CHECKING:
    from bot.chat.core import Commands

log = logging.getLogger(__name__)

RULE_SAVE_ACTION, RULE_CANCEL_ACTION = "rot_rule_save", "rot_rule_cancel"
PREVIEW_ACTIONS = "rot_rule_preview"
ACTION_VERBS = {RULE_SAVE_ACTION: SAVE, RULE_CANCEL_ACTION: CANCEL}


@dataclass(frozen=True)
class RulePress:
    """The outcome of Save or Cancel: a line for the channel, or a private refusal."""

    text: str  # escaped
    settled: bool


def preview_blocks(preview: RulePreview) -> list[Block]:
    """The rule as it will be stored (TOML), backtest, last five events, expiry, buttons."""
    fields = [
        f"*Backtest since 2000*\n{backtest_line(preview)}",
        "*Last five events*\n" + "\n".join(event_lines(preview)),
    ]
    code = {"type": "mrkdwn", "text": trim(f"```{preview.toml}```", SLACK_SECTION_TEXT)}
    return [
        slack_header(f"Preview: {heading(preview)}"),
        {"type": "section", "text": code},
        *slack_field_sections(fields),
        *_track_record_blocks(preview),
        context_block([expiry_line(preview)]),
        preview_actions(preview.token),
    ]


def track_record_text(record: TrackRecordReply) -> str:
    """The track record table as mrkdwn, with the alert's line or why an alert has none."""
    told = record.line or f"No track record line in alerts: {record.note}"
    return f"*Track record*: {record.heading}\n```\n{record.table}\n```\n{told}"


def _track_record_blocks(preview: RulePreview) -> list[Block]:
    record = preview.track_record
    return slack_text_sections(track_record_text(record)) if record is not None else []


def preview_actions(token: str) -> Block:
    """Save (primary) and Cancel, both carrying the preview token."""
    return {
        "type": "actions",
        "block_id": PREVIEW_ACTIONS,
        "elements": [
            _button("Save", RULE_SAVE_ACTION, token, "primary"),
            _button("Cancel", RULE_CANCEL_ACTION, token),
        ],
    }


def _button(label: str, action_id: str, token: str, style: str | None = None) -> Block:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": token,
    }
    return button | ({"style": style} if style else {})


def without_buttons(blocks: list[Block]) -> list[Block]:
    """The preview's blocks once settled: the same, minus Save and Cancel."""
    return [block for block in blocks if block.get("block_id") != PREVIEW_ACTIONS]


def press_rule_button(core: Commands, user_id: str, action_id: str, token: str) -> RulePress:
    """Save or Cancel a preview for a Slack user (admins only). Never raises."""
    actor = make_actor(core.settings, SLACK.name, user_id)
    settle = core.save_preview if ACTION_VERBS.get(action_id) == SAVE else core.cancel_preview
    try:
        reply = settle(actor, token)
    except CommandError as error:
        return RulePress(escape_slack(error.message), settled=False)
    except Exception:
        log.exception("rule preview %s failed", action_id)
        return RulePress(GENERIC_ERROR, settled=False)
    who = mention_user(user_id, SLACK.name)
    return RulePress(f"{escape_slack(reply.text.rstrip('.'))} (by {who}).", settled=True)
