"""Platform size limits, enforced before sending so that no platform ever rejects an alert.

Pure functions on plain dicts and strings, shared by the Discord and Slack adapters. Text
that does not fit is trimmed visibly with "…" (or split into several blocks on Slack). A
message's text limit and posting pace are the platform's registry entry (`bot.platforms`);
the layout limits of embeds and blocks are here.
"""

from __future__ import annotations

from typing import Any

from bot.platforms import DISCORD, SLACK, PlatformName, platform_named

ELLIPSIS = "…"

# Discord (https://discord.com/developers/docs/resources/message#embed-object-embed-limits)
DISCORD_CONTENT = DISCORD.limits.text
DISCORD_EMBEDS = 10
DISCORD_TITLE = 256
DISCORD_DESCRIPTION = 4096
DISCORD_FIELDS = 25
DISCORD_FIELD_NAME = 256
DISCORD_FIELD_VALUE = 1024
DISCORD_FOOTER = 2048
DISCORD_AUTHOR = 256
DISCORD_EMBED_TOTAL = 6000

# Slack (https://docs.slack.dev/reference/block-kit/blocks)
SLACK_BLOCKS = 50
SLACK_SECTION_TEXT = 3000
SLACK_SECTION_FIELDS = 10
SLACK_FIELD_TEXT = 2000
SLACK_HEADER = 150
SLACK_CONTEXT_ELEMENTS = 10
SLACK_FALLBACK_TEXT = SLACK.limits.text


def trim(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in "…" when something was cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS if limit > 0 else ""


def fit_message_text(text: str, platform: PlatformName) -> str:
    """A message's plain text within `platform`'s limit (Discord content, Slack fallback)."""
    return trim(text, platform_named(platform).limits.text)


def split_text(text: str, limit: int) -> list[str]:
    """`text` in chunks of at most `limit` characters, preferring to break at newlines/spaces."""
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = _break_point(rest, limit)
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest or not chunks:
        chunks.append(rest)
    return chunks


def _break_point(text: str, limit: int) -> int:
    # Break at a paragraph, line or word boundary in the last quarter, else hard at the limit.
    for separator in ("\n\n", "\n", " "):
        index = text.rfind(separator, limit * 3 // 4, limit)
        if index > 0:
            return index
    return limit


def embed_length(embed: dict[str, Any]) -> int:
    """Characters Discord counts towards the 6000 total of one embed."""
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", ""))
    total += len(embed.get("author", {}).get("name", ""))
    for item in embed.get("fields", []):
        total += len(item.get("name", "")) + len(item.get("value", ""))
    return total


def fit_discord_embed(embed: dict[str, Any]) -> dict[str, Any]:
    """A copy of an embed dict trimmed to every Discord limit, the description giving way first."""
    fitted = dict(embed)
    _trim_key(fitted, "title", DISCORD_TITLE)
    _trim_key(fitted, "description", DISCORD_DESCRIPTION)
    if "footer" in fitted:
        fitted["footer"] = {
            **fitted["footer"],
            "text": trim(fitted["footer"]["text"], DISCORD_FOOTER),
        }
    if "author" in fitted:
        fitted["author"] = {
            **fitted["author"],
            "name": trim(fitted["author"]["name"], DISCORD_AUTHOR),
        }
    fitted["fields"] = [_fit_field(item) for item in fitted.get("fields", [])[:DISCORD_FIELDS]]
    if len(embed.get("fields", [])) > DISCORD_FIELDS:
        fitted["fields"][-1] = {**fitted["fields"][-1], "value": trim("more fields omitted", 1024)}
    return _fit_total(fitted)


def _trim_key(embed: dict[str, Any], key: str, limit: int) -> None:
    if key in embed:
        embed[key] = trim(embed[key], limit)


def _fit_field(item: dict[str, Any]) -> dict[str, Any]:
    name = trim(item.get("name", "") or "-", DISCORD_FIELD_NAME)
    value = trim(item.get("value", "") or "-", DISCORD_FIELD_VALUE)
    return {**item, "name": name, "value": value}


def _fit_total(embed: dict[str, Any]) -> dict[str, Any]:
    excess = embed_length(embed) - DISCORD_EMBED_TOTAL
    if excess > 0 and embed.get("description"):
        keep = max(len(embed["description"]) - excess, 1)
        embed["description"] = trim(embed["description"], keep)
    while embed_length(embed) > DISCORD_EMBED_TOTAL and embed.get("fields"):
        embed["fields"] = embed["fields"][:-1]
    return embed


def fit_discord_embeds(embeds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most 10 embeds, each fitted, all together within 6000 characters."""
    fitted: list[dict[str, Any]] = []
    used = 0
    for embed in embeds[:DISCORD_EMBEDS]:
        one = fit_discord_embed(embed)
        if used + embed_length(one) > DISCORD_EMBED_TOTAL:
            break
        fitted.append(one)
        used += embed_length(one)
    return fitted


def fit_discord_content(content: str) -> str:
    """Message content within 2000 characters."""
    return trim(content, DISCORD_CONTENT)


def slack_text_sections(text: str) -> list[dict[str, Any]]:
    """mrkdwn section blocks holding `text`, split so each stays within 3000 characters."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": chunk}}
        for chunk in split_text(text, SLACK_SECTION_TEXT)
        if chunk
    ]


def slack_field_sections(fields: list[str]) -> list[dict[str, Any]]:
    """Section blocks of at most 10 mrkdwn fields of at most 2000 characters each."""
    trimmed = [trim(text or "-", SLACK_FIELD_TEXT) for text in fields]
    return [
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": text}
                for text in trimmed[start : start + SLACK_SECTION_FIELDS]
            ],
        }
        for start in range(0, len(trimmed), SLACK_SECTION_FIELDS)
    ]


def slack_header(text: str) -> dict[str, Any]:
    """A header block, trimmed to 150 characters."""
    return {"type": "header", "text": {"type": "plain_text", "text": trim(text, SLACK_HEADER)}}


def fit_slack_blocks(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """At most 50 blocks; when cut, the last kept block says so and the final block survives."""
    if len(blocks) <= SLACK_BLOCKS:
        return blocks
    note = {"type": "section", "text": {"type": "mrkdwn", "text": f"{ELLIPSIS} (shortened)"}}
    return [*blocks[: SLACK_BLOCKS - 2], note, blocks[-1]]
