"""The slash commands: argument transformers, autocomplete and one function per command.

Each command parses with `bot.chat.parsing` (through the transformers), defers, calls the
platform-neutral core (`bot.chat.core.Commands`) in a worker thread and formats with
`bot.chat.discord.format` (`/help` needs no thread and answers at once); `SLASH_COMMANDS`
is what the client's tree registers.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from discord import app_commands
from discord.app_commands import Choice

from bot.chat import parsing
from bot.chat.discord.answering import (
    Answer,
    Interaction,
    actor_of,
    answer,
    answer_now,
    core_of,
    plain,
)
from bot.chat.discord.format import describe, window_choices
from bot.chat.discord.rules import rule_command
from bot.chat.parsing import WINDOW_HELP
from bot.chat.reply_chart import render_reply_chart


class Ticker(app_commands.Transformer):
    """A symbol normalised and checked by `bot.chat.parsing.parse_symbol`; cached ones offered."""

    async def transform(self, interaction: Interaction, value: Any, /) -> str:
        """The upper-case ticker, or a CommandError the tree answers privately."""
        return parsing.parse_symbol(str(value))

    async def autocomplete(self, interaction: Interaction, value: Any, /) -> list[Choice[str]]:
        """Cached symbols starting with what was typed."""
        found = await asyncio.to_thread(core_of(interaction).symbol_choices, str(value))
        return [Choice(name=s, value=s) for s in found]


class Window(app_commands.Transformer):
    """A window name checked by `bot.chat.parsing.parse_window`; the fixed windows offered."""

    async def transform(self, interaction: Interaction, value: Any, /) -> str:
        """The normalised window."""
        return parsing.parse_window(str(value))

    async def autocomplete(self, interaction: Interaction, value: Any, /) -> list[Choice[str]]:
        """Fixed windows starting with what was typed, plus the typed text if it is valid."""
        return [Choice(name=w, value=w) for w in window_choices(str(value))]


async def rule_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    """Rule ids containing what was typed."""
    found = await asyncio.to_thread(core_of(interaction).rule_choices, current)
    return [Choice(name=r, value=r) for r in found]


async def rule_or_all_autocomplete(interaction: Interaction, current: str) -> list[Choice[str]]:
    """`all` and the rule ids containing what was typed."""
    found = await rule_autocomplete(interaction, current)
    wanted = current.strip().lower()
    every = [Choice(name=parsing.ALL, value=parsing.ALL)] if wanted in parsing.ALL else []
    return (every + found)[:25]


TickerArg = app_commands.Transform[str, Ticker]
WindowArg = app_commands.Transform[str, Window]
RULE_HELP = "Signal id (see /signals)"


@app_commands.command(name="spread", description=describe("spread"))
@app_commands.describe(a="First symbol, e.g. IWC", b="Second symbol, e.g. OEF", window=WINDOW_HELP)
async def spread_command(
    interaction: Interaction, a: TickerArg, b: TickerArg, window: WindowArg | None = None
) -> None:
    """A's return minus B's over a window, with a chart."""
    core = core_of(interaction)

    def work() -> Answer:
        reply = core.spread(a, b, window)
        title = f"{reply.a.symbol} vs {reply.b.symbol} ({reply.window})"
        return reply, render_reply_chart(core.db, reply.chart, title)

    await answer(interaction, work, defer=True, charted=True)


@app_commands.command(name="signals", description=describe("signals"))
async def signals_command(interaction: Interaction) -> None:
    """Every rule's state."""
    await answer(interaction, plain(core_of(interaction).signals), defer=True)


@app_commands.command(name="signal", description=describe("signal"))
@app_commands.rename(rule="id")
@app_commands.describe(rule=RULE_HELP)
@app_commands.autocomplete(rule=rule_autocomplete)
async def signal_command(interaction: Interaction, rule: str) -> None:
    """One rule in detail, with its chart."""
    core, actor = core_of(interaction), actor_of(interaction)

    def work() -> Answer:
        detail = core.signal(rule, actor)
        return detail, render_reply_chart(core.db, detail.chart, detail.row.title)

    await answer(interaction, work, defer=True, charted=True)


@app_commands.command(name="subscribe", description=describe("subscribe"))
@app_commands.rename(rule="id")
@app_commands.describe(rule="Signal id, or all", mode="mention in the channel (default) or dm")
@app_commands.autocomplete(rule=rule_or_all_autocomplete)
async def subscribe_command(
    interaction: Interaction, rule: str, mode: Literal["mention", "dm"] = "mention"
) -> None:
    """Subscribe the caller."""
    core, actor = core_of(interaction), actor_of(interaction)
    await answer(interaction, plain(core.subscribe, actor, rule, mode), ephemeral=True)


@app_commands.command(name="unsubscribe", description=describe("unsubscribe"))
@app_commands.rename(rule="id")
@app_commands.describe(rule="Signal id, or all")
@app_commands.autocomplete(rule=rule_or_all_autocomplete)
async def unsubscribe_command(interaction: Interaction, rule: str) -> None:
    """Unsubscribe the caller."""
    core, actor = core_of(interaction), actor_of(interaction)
    await answer(interaction, plain(core.unsubscribe, actor, rule), ephemeral=True)


@app_commands.command(name="subscriptions", description=describe("subscriptions"))
async def subscriptions_command(interaction: Interaction) -> None:
    """The caller's subscriptions, privately."""
    core, actor = core_of(interaction), actor_of(interaction)
    await answer(interaction, plain(core.subscriptions, actor), ephemeral=True)


@app_commands.command(name="mute", description=describe("mute"))
@app_commands.rename(rule="id")
@app_commands.describe(rule="Signal id, or all", duration="30m, 4h, 1d, 2w ... (up to 90d)")
@app_commands.autocomplete(rule=rule_or_all_autocomplete)
async def mute_command(interaction: Interaction, rule: str, duration: str) -> None:
    """Silence a rule (admins)."""
    core, actor = core_of(interaction), actor_of(interaction)
    await answer(interaction, plain(core.mute, actor, rule, duration))


@app_commands.command(name="unmute", description=describe("unmute"))
@app_commands.rename(rule="id")
@app_commands.describe(rule="Signal id, or all")
@app_commands.autocomplete(rule=rule_or_all_autocomplete)
async def unmute_command(interaction: Interaction, rule: str) -> None:
    """Lift a mute (admins)."""
    core, actor = core_of(interaction), actor_of(interaction)
    await answer(interaction, plain(core.unmute, actor, rule))


@app_commands.command(name="status", description=describe("status"))
async def status_command(interaction: Interaction) -> None:
    """Data freshness, last evaluation, outbox backlog."""
    await answer(interaction, plain(core_of(interaction).status), defer=True)


@app_commands.command(name="help", description=describe("help"))
async def help_command(interaction: Interaction) -> None:
    """Every command, privately."""
    await answer_now(interaction, core_of(interaction).help(), ephemeral=True)  # no I/O


SLASH_COMMANDS = (
    spread_command,
    signals_command,
    signal_command,
    subscribe_command,
    unsubscribe_command,
    subscriptions_command,
    mute_command,
    unmute_command,
    status_command,
    rule_command,
    help_command,
)
