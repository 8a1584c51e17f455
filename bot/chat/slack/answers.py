"""What the Slack adapter answers, without the Slack SDK: parse, run the core, format.

Every function here is blocking (the command core reads SQLite, charts use matplotlib):
`bot/chat/slack/app.py` calls them with `asyncio.to_thread` after `ack()`. None of them raises:
a `CommandError` becomes its one line, any other failure is logged and answered generically.
"""

from __future__ import annotations

import html
import logging
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.chat.core import Commands
from bot.chat.help_text import COMMANDS
from bot.chat.on_call import make_actor
from bot.chat.parsing import GENERIC_ERROR, CommandError, one_line
from bot.chat.replies import AckReply, Actor, Reply, RulePreview, SignalDetail, SpreadReply
from bot.chat.reply_chart import render_reply_chart
from bot.chat.slack.format import reply_blocks, reply_text, text_blocks
from bot.config import Settings
from bot.delivery.slack_alert import Block
from bot.platforms import SLACK, escape_slack
from bot.safety import mention_user, sanitize
from bot.service.web import metrics_port_problems
from signals.models import ChartSpec

log = logging.getLogger(__name__)

COMMAND_NAMES: tuple[str, ...] = tuple(name for name, *_ in COMMANDS)
USAGE: dict[str, str] = {name: args for name, args, *_ in COMMANDS}
# Personal answers (and help, status) go to the asker only; the rest to the channel.
PRIVATE = frozenset({"subscribe", "unsubscribe", "subscriptions", "status", "help"})
MAX_TEXT = 500
MAX_COMMAND = 32  # Slack's limit on a slash command's name, slash included
_PREFIX = re.compile(r"^[a-z0-9_-]*$")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'"})


@dataclass(frozen=True)
class SlackAnswer:
    """One reply to post: escaped fallback text, blocks, visibility and an optional chart.

    The chart is drawn after the text is posted (`render_chart_of`), so the answer comes first.
    """

    text: str
    blocks: list[Block]
    ephemeral: bool
    chart: ChartSpec | None = None
    chart_title: str = ""
    more_charts: tuple[tuple[str, bytes], ...] = ()  # (title, PNG) drawn by the core already


@dataclass(frozen=True)
class AckOutcome:
    """A press of Acknowledge: the recorded acknowledgement (None on error) and a private note."""

    ack: AckReply | None
    note: SlackAnswer | None = None


def slash_name(prefix: str, name: str) -> str:
    """The registered command: `/` + prefix + name, e.g. `/rot-spread`."""
    return f"/{prefix}{name}"


def slack_commands_wanted(settings: Settings) -> bool:
    """True when the settings ask for Slack commands (an app token, a signing secret, HTTP mode).

    A bot token alone only posts alerts; then `check_slack_settings` says what else is missing.
    """
    return SLACK.chat_wanted(settings)


def check_slack_settings(settings: Settings) -> list[str]:
    """One `config error:` line per missing or invalid Slack setting for the chosen mode."""
    problems = []
    if settings.slack_bot_token is None:
        problems.append("SLACK_BOT_TOKEN is required for Slack commands")
    if settings.slack_mode == "socket" and settings.slack_app_token is None:
        problems.append("SLACK_APP_TOKEN (xapp-...) is required in Socket Mode (SLACK_MODE=socket)")
    if settings.slack_mode == "http" and settings.slack_signing_secret is None:
        problems.append("SLACK_SIGNING_SECRET is required in HTTP mode (SLACK_MODE=http)")
    prefix = settings.slack_command_prefix
    longest = max(COMMAND_NAMES, key=len)
    if not _PREFIX.match(prefix) or len(slash_name(prefix, longest)) > MAX_COMMAND:
        problems.append(
            "SLACK_COMMAND_PREFIX must be lower-case letters, digits, - or _ and short enough "
            f"for {slash_name('<prefix>', longest)} to fit in {MAX_COMMAND} characters"
        )
    lines = [f"config error: {problem}" for problem in problems]
    if settings.slack_mode == "http":
        lines += metrics_port_problems(settings, settings.slack_http_port, "SLACK_HTTP_PORT")
    return lines


def split_arguments(text: str | None) -> list[str]:
    """Arguments from a slash command's text: Slack's escaping undone, quotes honoured."""
    plain = html.unescape(one_line(text or "", MAX_TEXT)).translate(_QUOTES)
    try:
        return shlex.split(plain)
    except ValueError:  # an unbalanced quote: split on blanks instead
        return plain.replace('"', " ").replace("'", " ").split()


def answer_command(core: Commands, name: str, text: str | None, user_id: str) -> SlackAnswer:
    """Run `/<prefix><name> <text>` for a Slack user; never raises."""
    prefix = core.settings.slack_command_prefix
    try:
        actor = make_actor(core.settings, SLACK.name, user_id)
        reply = run_command(core, name, split_arguments(text), actor)
        return to_answer(core, reply, ephemeral=name in PRIVATE)
    except CommandError as error:
        return error_answer(error.message)
    except Exception:
        log.exception("Slack command %s failed", slash_name(prefix, name))
        return error_answer(GENERIC_ERROR)


def run_command(core: Commands, name: str, args: list[str], actor: Actor) -> Reply:
    """Dispatch parsed arguments to the command core (CommandError on bad usage)."""
    prefix = core.settings.slack_command_prefix
    if name == "rule":  # a line of its own grammar (bot.chat.rule_forms)
        return core.rule(actor, args)
    runner = _RUNNERS.get(name)
    if runner is None:
        raise CommandError(f"Unknown command {slash_name(prefix, name)}.")
    count = len(USAGE[name].split())
    if name == "mute" and len(args) > 2:
        args = [args[0], "".join(args[1:])]  # `/mute x 1 d` means 1d
    if len(args) > count:
        usage = f"{slash_name(prefix, name)} {USAGE[name]}".rstrip()
        raise CommandError(f"Too many arguments. Usage: {usage}")
    padded: list[str | None] = [*args, *([None] * (count - len(args)))]
    return runner(core, actor, padded)


_Runner = Callable[[Commands, Actor, list[Any]], Reply]
_RUNNERS: dict[str, _Runner] = {
    "spread": lambda core, actor, a: core.spread(a[0], a[1], a[2]),
    "signals": lambda core, actor, a: core.signals(),
    "signal": lambda core, actor, a: core.signal(a[0], actor),
    "subscribe": lambda core, actor, a: core.subscribe(actor, a[0], a[1]),
    "unsubscribe": lambda core, actor, a: core.unsubscribe(actor, a[0]),
    "subscriptions": lambda core, actor, a: core.subscriptions(actor),
    "mute": lambda core, actor, a: core.mute(actor, a[0], a[1]),
    "unmute": lambda core, actor, a: core.unmute(actor, a[0]),
    "status": lambda core, actor, a: core.status(),
    "help": lambda core, actor, a: core.help("/" + core.settings.slack_command_prefix),
}


def to_answer(core: Commands, reply: Reply, *, ephemeral: bool) -> SlackAnswer:
    """Blocks for a reply (sanitized here) and, for /spread and /signal, what to chart."""
    chart, title = _chart(reply) if not ephemeral else (None, "")
    safe = sanitize(reply, SLACK.name)
    more = _track_chart(reply) if not ephemeral else ()
    return SlackAnswer(reply_text(safe), reply_blocks(safe), ephemeral, chart, title, more)


def _track_chart(reply: Reply) -> tuple[tuple[str, bytes], ...]:
    """The track record's fan of a /signal answer or /rule preview, if it has one."""
    if not isinstance(reply, SignalDetail | RulePreview) or reply.track_record is None:
        return ()
    png = reply.track_record.chart_png
    rule_id = reply.rule_id if isinstance(reply, RulePreview) else reply.row.rule_id
    return ((f"{rule_id}: track record", png),) if png else ()


def _chart(reply: Reply) -> tuple[ChartSpec | None, str]:
    # The title is drawn into the image from the raw reply: pixels cannot ping anyone.
    if isinstance(reply, SpreadReply):
        return reply.chart, f"{reply.a.symbol} vs {reply.b.symbol} ({reply.window})"
    if isinstance(reply, SignalDetail):
        return reply.chart, reply.row.title or reply.row.rule_id
    if isinstance(reply, RulePreview):
        return reply.chart, reply.title
    return None, ""


def render_chart_of(core: Commands, answer: SlackAnswer) -> bytes | None:
    """The answer's chart as PNG (None when it has none or it cannot be drawn); blocking."""
    return render_reply_chart(core.db, answer.chart, answer.chart_title)


def error_answer(message: str) -> SlackAnswer:
    """A one-line private answer (escaped here)."""
    text = escape_slack(one_line(message))
    return SlackAnswer(text, text_blocks(f":warning: {text}"), ephemeral=True)


def note_answer(text: str, *, ephemeral: bool = True) -> SlackAnswer:
    """A short answer whose text is already escaped (may hold a mention built here)."""
    return SlackAnswer(text, text_blocks(text), ephemeral)


# Buttons on alerts


def press_acknowledge(core: Commands, user_id: str, alert_key: str) -> AckOutcome:
    """Record an Acknowledge press; a later press is told who was first. Never raises."""
    try:
        reply = core.acknowledge(make_actor(core.settings, SLACK.name, user_id), alert_key)
    except CommandError as error:
        return AckOutcome(None, error_answer(error.message))
    except Exception:
        log.exception("acknowledging %s failed", alert_key[:80])
        return AckOutcome(None, error_answer(GENERIC_ERROR))
    if reply.first:
        return AckOutcome(reply)
    return AckOutcome(reply, note_answer(escape_slack(reply.text)))


def press_mute(core: Commands, user_id: str, rule_id: str) -> SlackAnswer:
    """Mute a rule for one day from its alert's button (admins only). Never raises."""
    try:
        reply = core.mute(make_actor(core.settings, SLACK.name, user_id), rule_id, "1d")
        who = mention_user(user_id, SLACK.name)
        text = f"{escape_slack(reply.text.rstrip('.'))} (by {who})."
        return note_answer(text, ephemeral=False)
    except CommandError as error:
        return error_answer(error.message)
    except Exception:
        log.exception("muting %s from a button failed", rule_id[:80])
        return error_answer(GENERIC_ERROR)
