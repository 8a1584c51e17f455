"""The platform-neutral alert message, the `Notifier` interface and the `Broadcaster`.

An `AlertMessage` is built once from a signal `Event`; each adapter only formats it
(`to_discord_embed`, `to_slack_blocks`, the console). Adapters report failures with the error
types below so the sender knows whether to retry, wait for `retry_after`, or give up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from bot.platforms import PlatformName, platform_named
from bot.safety import is_user_id
from signals.formatting import distinct_decimals
from signals.models import Direction, Event

log = logging.getLogger(__name__)

# Colours by direction, shared by every adapter (Discord embed colour, console style).
COLOURS: dict[str, int] = {"up": 0x2ECC71, "down": 0xE74C3C, "neutral": 0x95A5A6}
ARROWS: dict[str, str] = {"up": "▲", "down": "▼", "neutral": "●"}


@dataclass(frozen=True)
class AlertMessage:
    """One alert, formatted for no platform in particular.

    `key` is the alert's dedupe key; `mentions` holds platform user ids of subscribers that
    may be pinged (filled in by the subscriptions feature; nobody else is ever pinged).
    """

    key: str
    rule_id: str
    kind: str
    title: str
    direction: Direction
    data_date: date
    description: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    symbols: tuple[str, ...] = ()
    chart_png: bytes | None = None
    mentions: tuple[str, ...] = ()
    # What followed the rule's past firings, one line (bot.outcomes); "" when it has none.
    track_record: str = ""

    @property
    def colour(self) -> int:
        """RGB colour for the direction (green up, red down, grey neutral)."""
        return COLOURS.get(self.direction, COLOURS["neutral"])

    @property
    def headline(self) -> str:
        """Title with a direction arrow, and a marker for reversals."""
        prefix = ARROWS.get(self.direction, ARROWS["neutral"])
        suffix = " (reversed)" if self.kind == "reversed" else ""
        return f"{prefix} {self.title}{suffix}"

    @property
    def footer(self) -> str:
        """Footer naming the rule and the alert key (the key lets a restart find the post)."""
        return f"rule {self.rule_id} · alert {self.key}"

    def with_mentions(self, user_ids: Iterable[str]) -> AlertMessage:
        """A copy that may ping exactly these subscriber ids."""
        return replace(self, mentions=tuple(user_ids))


def build_alert_message(event: Event, chart_png: bytes | None = None) -> AlertMessage:
    """The platform-neutral message for an event: measures as fields, the data date, the rule."""
    return AlertMessage(
        key=event.dedupe_key,
        rule_id=event.rule_id,
        kind=event.kind,
        title=event.title,
        direction=event.direction,
        data_date=event.date,
        description=event.description,
        fields=_measure_fields(event),
        symbols=event.symbols,
        chart_png=chart_png,
        track_record=_track_record(event),
    )


def _track_record(event: Event) -> str:
    """The line `bot.outcomes` stored with a firing (text from the event log: checked)."""
    line = event.context.get("track_record") if event.kind == "fired" else None
    return line if isinstance(line, str) else ""


def subscriber_ids(message: AlertMessage, platform: PlatformName) -> list[str]:
    """The message's subscriber ids well-formed for `platform` (others are logged, dropped)."""
    valid = [user_id for user_id in message.mentions if is_user_id(user_id, platform)]
    if len(valid) < len(message.mentions):
        dropped = len(message.mentions) - len(valid)
        name = platform_named(platform).title
        log.warning("alert %s: ignored %d malformed %s user id(s)", message.key, dropped, name)
    return valid


def _measure_fields(event: Event) -> tuple[tuple[str, str], ...]:
    # A rule's own fields already state its measure and threshold in the rule's words
    # ("Level", "Previous record"); repeating them as Measure/Threshold said each thing twice.
    if event.fields:
        return event.fields
    if event.threshold is None:
        return (("Measure", format_number(event.measure, event.unit)),)
    decimals = distinct_decimals(event.measure, event.threshold, 2)
    return (
        ("Measure", format_number(event.measure, event.unit, decimals)),
        ("Threshold", format_number(event.threshold, event.unit, decimals)),
    )


FENCE = "```"


def monospace(text: str) -> str:
    """A field value whose columns must line up: Discord and Slack show a fenced block in a
    fixed-width font (spaces alone collapse or misalign in a proportional one)."""
    return f"{FENCE}\n{text}\n{FENCE}"


def without_fence(text: str) -> str:
    """The text inside a `monospace` value, for destinations that are fixed-width anyway."""
    if text.startswith(FENCE + "\n") and text.endswith("\n" + FENCE):
        return text[len(FENCE) + 1 : -len(FENCE) - 1]
    return text


def format_number(value: float, unit: str = "", decimals: int = 2) -> str:
    """A measure as a desk reads it: 2 decimals, thousands separators, the unit attached."""
    text = f"{value:,.{decimals}f}"
    if unit in ("%", "pct"):
        return f"{text}%"
    return f"{text} {unit}".strip()


@dataclass(frozen=True)
class DeliveryResult:
    """What a platform answered: the posted message's id (None when it gives none)."""

    destination: str
    message_id: str | None
    note: str = ""


class DeliveryError(Exception):
    """A destination did not accept the message; `reason` is safe to log (no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(redact(reason))
        self.reason = redact(reason)


class TransientError(DeliveryError):
    """Worth retrying later: 5xx, timeouts, connection errors."""


class PermanentError(DeliveryError):
    """Retrying cannot help: bad token, unknown channel, a payload the platform refuses."""


class RateLimited(TransientError):
    """HTTP 429: retry no sooner than `retry_after` seconds."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = max(float(retry_after), 0.0)


@runtime_checkable
class Notifier(Protocol):
    """One destination (a channel, a webhook, the console).

    `name` identifies the destination in the outbox; it never contains a secret.
    `min_interval` is the pause the sender keeps between two posts to it (Slack: ~1/s).
    """

    name: str
    min_interval: float

    def send(self, message: AlertMessage, *, idempotency_key: str) -> DeliveryResult:
        """Post the message; raise a DeliveryError subclass when it was not accepted."""
        ...

    def find_existing(self, idempotency_key: str, *, since: datetime) -> DeliveryResult | None:
        """The message already posted under this key after `since`, if the platform can tell."""
        ...


class Broadcaster:
    """Send one message to every notifier; one failing destination never blocks the others.

    Modelled on freqtrade's RPCManager.send_msg: each send is isolated and every failure is
    logged with the destination and the reason.
    """

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self.notifiers = list(notifiers)

    def send(
        self, message: AlertMessage, *, idempotency_key: str
    ) -> dict[str, DeliveryResult | DeliveryError]:
        """Results per destination name: the DeliveryResult, or the error that stopped it."""
        outcomes: dict[str, DeliveryResult | DeliveryError] = {}
        for notifier in self.notifiers:
            outcomes[notifier.name] = send_isolated(notifier, message, idempotency_key)
        return outcomes


def send_isolated(
    notifier: Notifier, message: AlertMessage, idempotency_key: str
) -> DeliveryResult | DeliveryError:
    """Send through one notifier, turning any failure into a logged DeliveryError."""
    try:
        return notifier.send(message, idempotency_key=idempotency_key)
    except DeliveryError as error:
        log.warning("delivery to %s failed: %s", notifier.name, error.reason)
        return error
    except Exception as error:  # an adapter bug must not silence the other destinations
        log.exception("delivery to %s failed unexpectedly", notifier.name)
        return TransientError(f"{type(error).__name__}: {error}")


_SECRET_PATTERNS = (
    (re.compile(r"(webhooks/\d+/)[\w.-]+"), r"\1***"),
    (re.compile(r"hooks\.slack(-gov)?\.com/[\w/.-]+"), r"hooks.slack\1.com/***"),
    (re.compile(r"xox[a-z]-[\w-]+"), "xox?-***"),
    (re.compile(r"(Bot|Bearer)\s+[\w.-]{8,}"), r"\1 ***"),
)


def redact(text: str) -> str:
    """`text` with webhook tokens, Slack tokens and Authorization values masked."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text
