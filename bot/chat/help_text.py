"""The command list `/help` shows, and adapters reuse for command descriptions."""

from __future__ import annotations

from bot.chat.parsing import WINDOW_HELP
from bot.chat.replies import CommandHelp, HelpReply

# name, arguments, description, admin only
COMMANDS: tuple[tuple[str, str, str, bool], ...] = (
    ("spread", "A B [window]", "Returns of A and B over a window and A minus B in bps.", False),
    ("signals", "", "Every signal: state, measure vs threshold, last fired.", False),
    ("signal", "ID", "One signal: detail, chart, last events, backtest since 2000.", False),
    ("subscribe", "ID|all [mention|dm]", "Be mentioned (or DMed) when a signal fires.", False),
    ("unsubscribe", "ID|all", "Stop hearing about a signal (or all).", False),
    ("subscriptions", "", "Your subscriptions.", False),
    ("mute", "ID|all DURATION", "Silence a signal for 30m, 4h, 1d, 2w ... (admins).", True),
    ("unmute", "ID|all", "Lift a mute (admins).", True),
    ("status", "", "Data freshness, last evaluation, delivery backlog.", False),
    (
        "rule",
        "new|edit|disable|enable|delete ...",
        "Create or change a rule, with a backtest preview before Save (admins).",
        True,
    ),
    ("help", "", "This list.", False),
)

EXAMPLES = ("spread IWC OEF ytd", "spread IWM IWB 42d", "subscribe all dm", "mute iwm-ath 1d")


def help_reply(prefix: str = "/") -> HelpReply:
    """Every command with its usage, named with `prefix` (e.g. `/rot-` on a shared Slack)."""
    commands = tuple(
        CommandHelp(f"{prefix}{name}", f"{prefix}{name} {args}".rstrip(), text, admin)
        for name, args, text, admin in COMMANDS
    )
    lines = [f"{c.usage}: {c.description}" for c in commands]
    text = " | ".join(lines)
    return HelpReply(
        commands, text, windows=WINDOW_HELP, examples=tuple(prefix + e for e in EXAMPLES)
    )
