"""An alert as Discord payload pieces (embed dict, mention content, nonce, button ids).

No SDK import: `bot.delivery.discord` turns these into discord.py objects, and the chat side
(`bot.chat.discord.buttons`) reads the same custom ids and footer key back when a button is
pressed. Every text from rules or data is neutralised here, so nothing in an alert pings.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from bot.delivery.limits import fit_discord_content, fit_discord_embeds
from bot.delivery.message import AlertMessage, subscriber_ids
from bot.platforms import DISCORD, neutralise_discord
from bot.safety import mention_user

CHART_NAME = "chart.png"
CUSTOM_ID_LIMIT = 100  # Discord's maximum custom_id length
ACK_PREFIX, MUTE_PREFIX = "rot:ack:", "rot:mute1d:"
TRACK_FIELD = "Track record"  # what followed the rule's past firings (never a forecast)
ACK_FIELD = "Acknowledged"  # the embed field an acknowledged alert gets (once)
ACK_TEMPLATE = r"rot:ack:(?P<key>.{0,92})"
MUTE_TEMPLATE = r"rot:mute1d:(?P<rule>.{1,89})"
NONCE_LENGTH = 25  # Discord's maximum nonce length
_FOOTER_KEY = re.compile(r"alert (\S+)$")


def alert_embed(message: AlertMessage) -> dict[str, Any]:
    """The alert as one embed dict within Discord's limits, every text neutralised."""
    fields = [
        embed_field(neutralise_discord(name), neutralise_discord(value))
        for name, value in message.fields
    ]
    fields.append(embed_field("Data date", message.data_date.isoformat()))
    if message.track_record:
        fields.append(
            embed_field(TRACK_FIELD, neutralise_discord(message.track_record), inline=False)
        )
    embed: dict[str, Any] = {
        "type": "rich",
        "title": neutralise_discord(message.headline),
        "color": message.colour,
        "fields": fields,
        "footer": {"text": neutralise_discord(message.footer)},
    }
    if message.description:
        embed["description"] = neutralise_discord(message.description)
    return fit_discord_embeds([with_chart(embed, bool(message.chart_png))])[0]


def mention_content(message: AlertMessage) -> str | None:
    """Message content: the subscribers' mentions, or None when there are none."""
    users = subscriber_ids(message, DISCORD.name)
    if not users:
        return None
    return fit_discord_content(" ".join(mention_user(u, DISCORD.name) for u in users))


def discord_nonce(idempotency_key: str) -> str:
    """A stable nonce of at most 25 characters for an alert key."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:NONCE_LENGTH]


def embed_field(name: str, value: str, *, inline: bool = True) -> dict[str, Any]:
    """One embed field; an empty value shows as "-" (Discord refuses empty ones)."""
    return {"name": name, "value": value or "-", "inline": inline}


def with_chart(embed: dict[str, Any], chart: bool) -> dict[str, Any]:
    """The embed showing the attached chart.png when `chart` is set."""
    if chart:
        embed["image"] = {"url": f"attachment://{CHART_NAME}"}
    return embed


# Alert buttons: dynamic custom ids, so a restarted bot still answers old alerts.


def ack_custom_id(key: str) -> str:
    """`rot:ack:<key>`; just `rot:ack:` when the key is too long (it is read from the footer)."""
    custom_id = ACK_PREFIX + key
    return custom_id if len(custom_id) <= CUSTOM_ID_LIMIT else ACK_PREFIX


def mute_custom_id(rule_id: str) -> str:
    """`rot:mute1d:<rule_id>` (rule ids are at most 80 characters)."""
    return (MUTE_PREFIX + rule_id)[:CUSTOM_ID_LIMIT]


def key_from_footer(embeds: list[dict[str, Any]]) -> str:
    """The alert key an alert embed's footer ends with (`... · alert <key>`), or ""."""
    for embed in embeds:
        found = _FOOTER_KEY.search(embed.get("footer", {}).get("text", ""))
        if found:
            return found[1]
    return ""


def bot_message_with_key(
    page: list[dict[str, Any]], key: str, bot_id: str
) -> dict[str, Any] | None:
    """The message in a history page that the bot posted with `key` in its footer."""
    for item in page:
        if str(item.get("author", {}).get("id")) == bot_id and _has_key(item, key):
            return item
    return None


def _has_key(item: dict[str, Any], key: str) -> bool:
    return key_from_footer(item.get("embeds", [])) == key


def acknowledged_layout(
    data: dict[str, Any], who: str, platform: str, moment: datetime
) -> dict[str, Any]:
    """A posted alert's embeds and buttons once acknowledged elsewhere: the PATCH body."""
    embeds = [dict(embed) for embed in data.get("embeds") or []]
    if embeds:
        value = (
            neutralise_discord(f"by {who} on {platform}") + f" at <t:{int(moment.timestamp())}:f>"
        )
        fields = [f for f in embeds[0].get("fields", []) if f.get("name") != ACK_FIELD][:24]
        embeds[0]["fields"] = [*fields, embed_field(ACK_FIELD, value, inline=False)]
    rows = [dict(row) for row in data.get("components") or []]
    for row in rows:
        row["components"] = [_acked_button(item) for item in row.get("components", [])]
    return {"embeds": fit_discord_embeds(embeds), "components": rows}


def _acked_button(item: dict[str, Any]) -> dict[str, Any]:
    if str(item.get("custom_id", "")).startswith(ACK_PREFIX):
        return {**item, "disabled": True, "label": "Acknowledged"}
    return item
