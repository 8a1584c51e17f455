"""Chat replies as Discord payload pieces (content, embed dicts); no SDK import.

`bot/chat/discord/answering.py` turns these dicts into discord.py objects; the alert itself is
built in `bot/delivery/discord_alert.py`. Every reply must already have
passed through `bot.safety.sanitize(reply, "discord")`: nothing here escapes mentions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.chat import parsing
from bot.chat.help_text import COMMANDS
from bot.chat.replies import (
    HelpReply,
    Reply,
    SignalDetail,
    SignalRow,
    SignalsReply,
    SpreadReply,
    StatusReply,
    TrackRecordReply,
)
from bot.delivery.discord_alert import ACK_FIELD, embed_field, with_chart
from bot.delivery.limits import fit_discord_content, fit_discord_embeds, split_text, trim
from bot.delivery.message import COLOURS, monospace

SIGNALS_BUDGET = 5200  # of the 6000 characters a message's embeds may hold in total
DESCRIPTION_LIMIT = 100  # of a slash command
_PHASES = {"firing": "🔴", "pending": "🟡", "inactive": "⚪"}
_GREY = COLOURS["neutral"]

Payload = dict[str, Any]  # {"content": str | None, "embeds": [embed dicts]}
_DESCRIPTIONS = {name: text for name, _, text, _ in COMMANDS}


# Slash commands


def describe(command: str) -> str:
    """A slash command's description (from the /help list), within Discord's 100 characters."""
    return _DESCRIPTIONS[command][:DESCRIPTION_LIMIT]


def window_choices(typed: str) -> list[str]:
    """Fixed windows starting with what was typed, plus the typed text first if it is valid."""
    wanted = typed.strip().lower()
    names = [w for w in parsing.FIXED_WINDOWS if w.startswith(wanted)]
    if wanted and wanted not in names and _valid_window(wanted):
        names.insert(0, wanted)
    return names


def _valid_window(text: str) -> bool:
    try:
        parsing.parse_window(text)
    except parsing.CommandError:
        return False
    return True


# Command replies


def format_reply(reply: Reply, *, chart: bool = False) -> Payload:
    """Content and embeds for a command reply; `chart` says a chart.png goes with it."""
    if isinstance(reply, SpreadReply):
        return _embeds(spread_embed(reply, chart=chart))
    if isinstance(reply, SignalsReply):
        return _embeds(*signals_embeds(reply))
    if isinstance(reply, SignalDetail):
        return with_track_chart(_embeds(signal_embed(reply, chart=chart)), reply.track_record)
    if isinstance(reply, StatusReply):
        return _embeds(status_embed(reply))
    if isinstance(reply, HelpReply):
        return _embeds(help_embed(reply))
    return error_payload(reply.text)


TRACK_CHART = "track-record.png"


def with_track_chart(payload: Payload, record: TrackRecordReply | None) -> Payload:
    """The payload with the track record's fan as a second embed and file (`files`)."""
    if record is None or record.chart_png is None:
        return payload
    embed = {
        "title": "Track record",
        "color": _GREY,
        "image": {"url": f"attachment://{TRACK_CHART}"},
    }
    embeds = fit_discord_embeds([*payload["embeds"], embed])
    return {**payload, "embeds": embeds, "files": {TRACK_CHART: record.chart_png}}


def error_payload(text: str) -> Payload:
    """A one-line reply (errors, subscription and mute results)."""
    return {"content": fit_discord_content(text), "embeds": []}


def _embeds(*embeds: dict[str, Any]) -> Payload:
    return {"content": None, "embeds": fit_discord_embeds(list(embeds))}


def spread_embed(reply: SpreadReply, *, chart: bool = False) -> dict[str, Any]:
    """`/spread`: both legs with their dates, the spread in bps, notes in the footer."""
    colour = COLOURS["up"] if reply.spread_bps >= 0 else COLOURS["down"]
    fields = [
        embed_field(leg.symbol, f"{leg.return_pct:+.2f}%\n{leg.start} → {leg.end}")
        for leg in (reply.a, reply.b)
    ]
    fields.append(embed_field("Spread", f"{reply.spread_bps:+,.0f} bps"))
    embed: dict[str, Any] = {
        "title": f"{reply.a.symbol} vs {reply.b.symbol} · {reply.window}",
        "description": f"{reply.basis} return, as of {reply.as_of}",
        "color": colour,
        "fields": fields,
    }
    if reply.notes:
        embed["footer"] = {"text": " ".join(reply.notes)}
    return with_chart(embed, chart)


def signals_embeds(reply: SignalsReply) -> list[dict[str, Any]]:
    """`/signals`: one line per rule, split over embeds; past the size budget, a count."""
    lines = [_signal_line(row) for row in reply.rows] or ["No signals are configured."]
    kept: list[str] = []
    for line in lines:
        if sum(len(k) + 1 for k in kept) + len(line) > SIGNALS_BUDGET:
            kept.append(f"… and {len(lines) - len(kept)} more: ask /signal ID.")
            break
        kept.append(line)
    chunks = split_text("\n".join(kept), 4000)
    embeds = [{"description": chunk, "color": _GREY} for chunk in chunks]
    embeds[0]["title"] = reply.text
    return embeds


def _signal_line(row: SignalRow) -> str:
    icon = _PHASES.get(row.phase, "⚪")
    status = "" if row.status == "OK" else f" [{row.status}]"
    fired = f", last fired {row.last_fired}" if row.last_fired else ""
    muted = f", muted until {row.muted_until}" if row.muted_until else ""
    origin = f" ({row.origin})" if row.origin else ""
    return trim(f"{icon} **{row.rule_id}**{origin}{status}: {row.summary}{fired}{muted}", 400)


def track_record_field(record: TrackRecordReply) -> dict[str, Any]:
    """The track record table, with the alert's line or why an alert has none."""
    told = record.line or f"No track record line in alerts: {record.note}"
    value = f"{record.heading}\n{monospace(record.table)}\n{told}"
    return embed_field("Track record", value, inline=False)  # short: 4 rows, well under 1024


def signal_embed(detail: SignalDetail, *, chart: bool = False) -> dict[str, Any]:
    """`/signal ID`: state, parameters, recent events, backtest and subscriber count."""
    row = detail.row
    fields = [
        embed_field("State", f"{_PHASES.get(row.phase, '')} {row.phase} ({row.status})"),
        embed_field("Now", row.summary or row.reason or "-"),
        embed_field("Last fired", str(row.last_fired or "never")),
        embed_field("Subscribers", str(detail.subscribers)),
    ]
    if detail.backtest is not None:
        bt = detail.backtest
        fields.append(
            embed_field(f"Backtest since {bt.since}", f"fired {bt.fired}×, last {bt.last_fired}")
        )
    if row.muted_until:
        fields.append(embed_field("Muted until", row.muted_until))
    fields += [embed_field(name, value) for name, value in detail.parameters]
    if detail.last_events:
        events = "\n".join(f"{e.date} {e.kind} ({e.measure:,.2f})" for e in detail.last_events)
        fields.append(embed_field("Last events", events, inline=False))
    if detail.track_record is not None:
        fields.append(track_record_field(detail.track_record))
    embed = {
        "title": row.title if row.title == row.rule_id else f"{row.title} ({row.rule_id})",
        "description": detail.description or detail.text,
        "color": _GREY,
        "fields": fields,
    }
    return with_chart(embed, chart)


def status_embed(reply: StatusReply) -> dict[str, Any]:
    """`/status`: the health report lines in a code block, problems as a field."""
    body = "\n".join(reply.lines).replace("```", "'''")
    embed: dict[str, Any] = {
        "title": reply.text,
        "description": f"```\n{body}\n```",
        "color": COLOURS["up"] if reply.ok else COLOURS["down"],
    }
    fields = []
    if reply.problems:
        fields.append(embed_field("Problems", "\n".join(reply.problems), inline=False))
    if reply.leader:
        fields.append(embed_field("Leader", reply.leader, inline=False))
    if fields:
        embed["fields"] = fields
    return embed


def help_embed(reply: HelpReply) -> dict[str, Any]:
    """`/help`: each command's usage and what it does, windows and examples."""
    lines = [f"`{c.usage}`: {c.description}" for c in reply.commands]
    fields = [embed_field("Windows", reply.windows, inline=False)] if reply.windows else []
    if reply.examples:
        fields.append(embed_field("Examples", "\n".join(f"`{e}`" for e in reply.examples)))
    return {"title": "Commands", "description": "\n".join(lines), "color": _GREY, "fields": fields}


def acknowledged_embed(embed: dict[str, Any], who: str, acked_at: str) -> dict[str, Any]:
    """The alert embed with an `Acknowledged` field naming who and when (Discord timestamp)."""
    fields = [f for f in embed.get("fields", []) if f.get("name") != ACK_FIELD][:24]
    stamp = int(datetime.fromisoformat(acked_at).timestamp())
    fields.append(embed_field(ACK_FIELD, f"by {who} at <t:{stamp}:f>", inline=False))
    return fit_discord_embeds([{**embed, "fields": fields}])[0]
