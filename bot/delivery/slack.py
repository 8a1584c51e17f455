"""Slack alert posting: the outbound half of the Slack adapter (imports `slack_sdk`).

A bot token plus channel posts with `chat.postMessage` (Block Kit) and uploads the chart into
the alert's thread with `files_upload_v2`; an incoming-webhook URL posts the blocks only
(webhooks cannot upload files). Slack has no idempotency key, so every bot post carries
message metadata (`event_type` rotation_alert, the alert key in `event_payload`) and, when an
earlier attempt's outcome is unknown, `find_existing` looks for it with `conversations.history`
(`include_all_metadata`) before posting again. Webhook posts cannot be looked up.
Alerts carry Acknowledge / Mute 1 day buttons (`bot.delivery.slack_alert`), answered by the
chat side (`bot.chat.slack.app`); `SlackDmNotifier` sends alerts by DM.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.config import Settings
from bot.delivery.message import (
    AlertMessage,
    DeliveryError,
    DeliveryResult,
    Notifier,
    PermanentError,
    RateLimited,
    TransientError,
)
from bot.delivery.slack_alert import (
    acknowledged_note_blocks,
    alert_blocks,
    fallback_text,
    to_slack_blocks,
)
from bot.platforms import SLACK, escape_slack
from bot.safety import is_user_id

if TYPE_CHECKING:
    from bot.delivery.ack_copies import AckNote

log = logging.getLogger(__name__)

EVENT_TYPE = "rotation_alert"
DEFAULT_API_URL = "https://slack.com/api/"
CHART_NAME = "chart.png"
HISTORY_LIMIT = 200  # Slack's recommended page size for conversations.history
HISTORY_MAX_PAGES = 50  # a crash lookup reads at most 10,000 messages, then posts again
_TRANSIENT = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}


def alert_metadata(idempotency_key: str) -> dict[str, Any]:
    """Message metadata carrying the alert key, so a restart can find the post."""
    return {"event_type": EVENT_TYPE, "event_payload": {"alert_key": idempotency_key}}


def api_url(base: str | None) -> str:
    """The Web API base URL, with the trailing slash slack_sdk needs."""
    url = base or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


class SlackBotNotifier:
    """Posts alerts to one channel with the bot token, about one message per second."""

    min_interval = SLACK.limits.seconds_per_message

    def __init__(
        self, token: str, channel: str, *, api_base: str | None = None, timeout: float = 30.0
    ) -> None:
        # No SDK-level retries: the outbox retries with its own backoff and injectable sleep.
        # A request that times out is looked up before the row is posted again (sender).
        self.client = WebClient(
            token=token, base_url=api_url(api_base), retry_handlers=[], timeout=int(timeout)
        )
        self.channel = channel
        self.channel_id = channel if SLACK.channel_id.match(channel) else None
        self.name = f"slack:{channel}"

    def send(self, message: AlertMessage, *, idempotency_key: str) -> DeliveryResult:
        """Post the blocks with the alert key as metadata, then upload the chart to the thread."""
        response = call_slack(
            lambda: self.client.chat_postMessage(
                channel=self.channel,
                text=fallback_text(message),
                blocks=alert_blocks(message),
                metadata=alert_metadata(idempotency_key),
                unfurl_links=False,
                unfurl_media=False,
            )
        )
        self.channel_id = response.get("channel") or self.channel_id
        timestamp = str(response["ts"])
        if message.chart_png:
            self._upload_chart(message, timestamp)
        return DeliveryResult(self.name, timestamp)

    def _upload_chart(self, message: AlertMessage, thread_ts: str) -> None:
        # The alert is already posted: a failed chart must not make the sender post it again.
        try:
            self.client.files_upload_v2(
                channel=self.channel_id or self.channel,
                thread_ts=thread_ts,
                content=message.chart_png,
                filename=CHART_NAME,
                title=escape_slack(message.title),
            )
        except (SlackClientError, URLError, OSError) as error:
            log.warning(
                "chart for %s not uploaded to %s: %s", message.key, self.name, describe_error(error)
            )

    def find_existing(self, idempotency_key: str, *, since: datetime) -> DeliveryResult | None:
        """The alert posted since `since`, found by its metadata in the channel history."""
        if self.channel_id is None:
            raise PermanentError("SLACK_CHANNEL is a name, not an id: cannot search history")
        for page in self._history_since(since):
            for item in page:
                payload = (item.get("metadata") or {}).get("event_payload") or {}
                if payload.get("alert_key") == idempotency_key:
                    return DeliveryResult(self.name, str(item["ts"]), "found")
        return None

    def _history_since(self, since: datetime) -> Iterator[list[dict[str, Any]]]:
        """Every page of the channel's messages since `since`, newest first, cursor by cursor.

        A busy channel holds more than one page since the alert was queued, and Slack may
        return fewer messages than `limit` while `has_more` is still true.
        """
        cursor: str | None = None
        for _ in range(HISTORY_MAX_PAGES):
            response = call_slack(
                lambda cursor=cursor: self.client.conversations_history(
                    channel=self.channel_id,
                    oldest=f"{since.timestamp():.6f}",
                    include_all_metadata=True,
                    limit=HISTORY_LIMIT,
                    cursor=cursor,
                )
            )
            yield response.get("messages", [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor:
                return
        log.warning("%s: stopped looking after %d history pages", self.name, HISTORY_MAX_PAGES)

    def finish_recovered(self, message: AlertMessage, found: DeliveryResult) -> None:
        """Complete an alert found after a crash: upload its chart unless the thread has it.

        The sender may have died (or lost the answer) between the post and the upload; a
        failed look at the thread raises, so the row is retried rather than left chartless.
        """
        if not message.chart_png or found.message_id is None:
            return
        if not self._chart_in_thread(found.message_id):
            self._upload_chart(message, found.message_id)

    def _chart_in_thread(self, thread_ts: str) -> bool:
        response = call_slack(
            lambda: self.client.conversations_replies(
                channel=self.channel_id or self.channel, ts=thread_ts, limit=HISTORY_LIMIT
            )
        )
        return any(
            item.get("name") == CHART_NAME
            for reply in response.get("messages", [])
            for item in reply.get("files") or []
        )

    def dm(self, user_id: str) -> SlackDmNotifier:
        """A notifier for `user_id`'s direct messages with the bot, sharing this client."""
        return SlackDmNotifier(self.client, user_id)

    def for_destination(self, destination: str) -> SlackDmNotifier | None:
        """The DM notifier an outbox destination `slack:dm:<user id>` names; None otherwise."""
        if not destination.startswith(SLACK.dm_prefix):
            return None
        return self.dm(destination.removeprefix(SLACK.dm_prefix))


class SlackDmNotifier(SlackBotNotifier):
    """Alerts by DM to one user (`slack:dm:<user id>`): `conversations.open` then post.

    It is a Notifier, so the outbox can carry DM rows with the same retries and look-ups.
    """

    def __init__(self, client: WebClient, user_id: str) -> None:
        if not is_user_id(user_id, SLACK.name):
            raise PermanentError(f"not a Slack user id: {user_id[:40]!r}")
        self.client, self.user_id = client, user_id
        self.channel, self.channel_id = user_id, None
        self.name = SLACK.dm_destination(user_id)

    def send(self, message: AlertMessage, *, idempotency_key: str) -> DeliveryResult:
        """Open (or reuse) the DM channel and post the alert there, mentioning nobody."""
        self._open()
        return super().send(message.with_mentions(()), idempotency_key=idempotency_key)

    def find_existing(self, idempotency_key: str, *, since: datetime) -> DeliveryResult | None:
        """The alert already DMed since `since` (needs the im:history scope)."""
        self._open()
        return super().find_existing(idempotency_key, since=since)

    def _open(self) -> None:
        if self.channel_id is None:
            response = call_slack(lambda: self.client.conversations_open(users=self.user_id))
            self.channel = self.channel_id = str(response["channel"]["id"])


class SlackWebhookNotifier:
    """Posts alerts through an incoming webhook: blocks only, no chart, no message id."""

    min_interval = SLACK.limits.seconds_per_message

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        self.client = WebhookClient(url, retry_handlers=[], timeout=int(timeout))
        self.name = "slack:webhook"

    def send(self, message: AlertMessage, *, idempotency_key: str) -> DeliveryResult:
        """POST the blocks to the webhook."""
        try:
            response = self.client.send(
                text=fallback_text(message),
                blocks=to_slack_blocks(message),
                unfurl_links=False,
                unfurl_media=False,
            )
        except (URLError, OSError) as error:
            raise TransientError(f"cannot reach Slack webhook: {describe_error(error)}") from error
        if response.status_code == 200:
            return DeliveryResult(self.name, None)
        raise _status_error(response.status_code, str(response.body), response.headers)

    def find_existing(self, idempotency_key: str, *, since: datetime) -> DeliveryResult | None:
        """Incoming webhooks cannot read history: an interrupted post is sent again."""
        return None


def call_slack(request: Any) -> Any:
    """Run one Web API call, translating slack_sdk errors into DeliveryErrors."""
    try:
        return request()
    except SlackApiError as error:
        response = error.response
        raise _status_error(
            response.status_code, str(response.get("error")), response.headers
        ) from error
    except (SlackClientError, URLError, OSError) as error:
        raise TransientError(f"cannot reach Slack: {describe_error(error)}") from error


def _status_error(status: int, error: str, headers: Any) -> DeliveryError:
    detail = f"Slack HTTP {status}: {error}"
    if status == 429 or error == "ratelimited":
        return RateLimited(detail, float(_header(headers, "Retry-After") or 1))
    if status >= 500 or error in _TRANSIENT:
        return TransientError(detail)
    return PermanentError(detail)


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else str(value)
    return None


def describe_error(error: BaseException) -> str:
    """`Type: message` of an exception, for one log line."""
    return f"{type(error).__name__}: {error}"


# Built from the settings, for bot.delivery.destinations (through the platform registry)


def build_channel_notifiers(settings: Settings) -> list[Notifier]:
    """The bot's channel and the incoming webhook the settings configure."""
    notifiers: list[Notifier] = []
    if settings.slack_bot_token is not None and settings.slack_channel is not None:
        token = settings.slack_bot_token.get_secret_value()
        channel, api_base = settings.slack_channel, settings.slack_api_url
        timeout = settings.request_timeout_seconds
        notifiers.append(SlackBotNotifier(token, channel, api_base=api_base, timeout=timeout))
    if settings.slack_webhook_url is not None:
        url, timeout = (
            settings.slack_webhook_url.get_secret_value(),
            settings.request_timeout_seconds,
        )
        notifiers.append(SlackWebhookNotifier(url, timeout=timeout))
    return notifiers


def build_dm_notifiers(
    settings: Settings, user_ids: Iterable[str], notifiers: Iterable[Notifier]
) -> list[Notifier]:
    """DM notifiers sharing the bot notifier's client; a malformed id is logged, its rows wait."""
    bot = next((n for n in notifiers if isinstance(n, SlackBotNotifier)), None)
    found: list[Notifier] = []
    for user_id in user_ids if bot is not None else ():
        try:
            found.append(bot.dm(user_id))  # type: ignore[union-attr]
        except PermanentError as error:
            log.warning("no DM destination %s: %s", SLACK.dm_destination(user_id), error)
    return found


def build_route_notifiers(
    settings: Settings, channel_ids: Iterable[str], notifiers: Iterable[Notifier]
) -> list[Notifier]:
    """Channels named by routes, posted to with the bot token (one shared WebClient)."""
    assert settings.slack_bot_token is not None
    token, api_base = settings.slack_bot_token.get_secret_value(), settings.slack_api_url
    bot = next((n for n in notifiers if isinstance(n, SlackBotNotifier)), None)
    found: list[Notifier] = []
    for channel in dict.fromkeys(channel_ids):
        notifier = SlackBotNotifier(
            token, channel, api_base=api_base, timeout=settings.request_timeout_seconds
        )
        if bot is not None:
            notifier.client = bot.client  # one client, one connection pool
        found.append(notifier)
    return found


# Acknowledged elsewhere: edit this platform's copy (bot.delivery.ack_copies)


def show_acknowledged(settings: Settings, destination: str, message_id: str, note: AckNote) -> None:
    """Replace a posted alert's Acknowledge button by who acknowledged it; DeliveryError."""
    if settings.slack_bot_token is None or destination == f"{SLACK.name}:webhook":
        raise PermanentError("only the bot's own posts can be edited (a webhook's cannot)")
    token = settings.slack_bot_token.get_secret_value()
    client = WebClient(
        token=token, base_url=api_url(settings.slack_api_url), retry_handlers=[],
        timeout=int(settings.request_timeout_seconds),
    )  # fmt: skip
    channel = _conversation_of(client, destination.removeprefix(f"{SLACK.name}:"))
    found = call_slack(
        lambda: client.conversations_history(
            channel=channel, latest=message_id, inclusive=True, limit=1, include_all_metadata=True
        )
    )
    posted = [m for m in found.get("messages") or [] if m.get("ts") == message_id]
    if not posted:
        raise PermanentError(f"message {message_id} not found in {channel}")
    blocks = acknowledged_note_blocks(posted[0].get("blocks") or [], escape_slack(note.text()))
    extra = {"metadata": posted[0]["metadata"]} if posted[0].get("metadata") else {}
    call_slack(
        lambda: client.chat_update(
            channel=channel,
            ts=message_id,
            text=str(posted[0].get("text") or "Alert"),
            blocks=blocks,
            **extra,
        )
    )


def _conversation_of(client: WebClient, name: str) -> str:
    """The conversation id of a channel destination, or of a DM (opened, as Slack returns it)."""
    if name.startswith("dm:"):
        opened = call_slack(lambda: client.conversations_open(users=name.removeprefix("dm:")))
        return str(opened["channel"]["id"])
    if not SLACK.channel_id.match(name):
        raise PermanentError(f"channel {name!r} is a name; its messages are edited by id only")
    return name
