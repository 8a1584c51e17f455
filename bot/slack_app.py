"""Slack adapter: the only module that imports `slack_sdk` / `slack_bolt`.

A bot token plus channel posts with `chat.postMessage` (Block Kit) and uploads the chart into
the alert's thread with `files_upload_v2`; an incoming-webhook URL posts the blocks only
(webhooks cannot upload files). Slack has no idempotency key, so every bot post carries
message metadata (`event_type` rotation_alert, the alert key in `event_payload`) and, when an
earlier attempt's outcome is unknown, `find_existing` looks for it with `conversations.history`
(`include_all_metadata`) before posting again. Webhook posts cannot be looked up.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.limits import (
    SLACK_FALLBACK_TEXT,
    SLACK_FIELD_TEXT,
    SLACK_SECONDS_PER_MESSAGE,
    fit_slack_blocks,
    slack_field_sections,
    slack_header,
    slack_text_sections,
    trim,
)
from bot.notifier import (
    AlertMessage,
    DeliveryError,
    DeliveryResult,
    PermanentError,
    RateLimited,
    TransientError,
)
from bot.safety import escape_slack, mention_user

log = logging.getLogger(__name__)

EVENT_TYPE = "rotation_alert"
DEFAULT_API_URL = "https://slack.com/api/"
CHART_NAME = "chart.png"
HISTORY_LIMIT = 200
_TRANSIENT = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,30}$")
_EMOJI = {"up": ":large_green_circle:", "down": ":red_circle:", "neutral": ":white_circle:"}


def to_slack_blocks(message: AlertMessage) -> list[dict[str, Any]]:
    """The alert as Block Kit within Slack's limits, every text escaped (no stray pings)."""
    emoji = _EMOJI.get(message.direction, _EMOJI["neutral"])
    fields = [f"*{escape_slack(name)}*\n{escape_slack(value)}" for name, value in message.fields]
    blocks = [slack_header(escape_slack(message.headline))]
    blocks += slack_field_sections(fields)
    blocks += slack_text_sections(escape_slack(message.description))
    pings = " ".join(mention_user(user, "slack") for user in subscriber_ids(message))
    blocks += slack_text_sections(pings)
    context = f"{emoji} data {message.data_date.isoformat()} · {escape_slack(message.footer)}"
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": trim(context, SLACK_FIELD_TEXT)}],
        }
    )
    return fit_slack_blocks(blocks)


def subscriber_ids(message: AlertMessage) -> list[str]:
    """The message's subscriber ids that are real Slack user ids (others are logged, dropped)."""
    valid = [user_id for user_id in message.mentions if _USER_ID.match(user_id)]
    if len(valid) < len(message.mentions):
        dropped = len(message.mentions) - len(valid)
        log.warning("alert %s: ignored %d malformed Slack user id(s)", message.key, dropped)
    return valid


def fallback_text(message: AlertMessage) -> str:
    """The notification text shown where blocks are not (push notifications, screen readers)."""
    return trim(
        escape_slack(f"{message.headline} ({message.data_date.isoformat()})"), SLACK_FALLBACK_TEXT
    )


def alert_metadata(idempotency_key: str) -> dict[str, Any]:
    """Message metadata carrying the alert key, so a restart can find the post."""
    return {"event_type": EVENT_TYPE, "event_payload": {"alert_key": idempotency_key}}


def api_url(base: str | None) -> str:
    """The Web API base URL, with the trailing slash slack_sdk needs."""
    url = base or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"


class SlackBotNotifier:
    """Posts alerts to one channel with the bot token, about one message per second."""

    min_interval = SLACK_SECONDS_PER_MESSAGE

    def __init__(self, token: str, channel: str, *, api_base: str | None = None) -> None:
        # No SDK-level retries: the outbox retries with its own backoff and injectable sleep.
        self.client = WebClient(token=token, base_url=api_url(api_base), retry_handlers=[])
        self.channel = channel
        self.channel_id = channel if _CHANNEL_ID.match(channel) else None
        self.name = f"slack:{channel}"

    def send(self, message: AlertMessage, *, idempotency_key: str) -> DeliveryResult:
        """Post the blocks with the alert key as metadata, then upload the chart to the thread."""
        response = call_slack(
            lambda: self.client.chat_postMessage(
                channel=self.channel,
                text=fallback_text(message),
                blocks=to_slack_blocks(message),
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
                "chart for %s not uploaded to %s: %s", message.key, self.name, _describe(error)
            )

    def find_existing(self, idempotency_key: str, *, since: datetime) -> DeliveryResult | None:
        """The alert posted since `since`, found by its metadata in the channel history."""
        if self.channel_id is None:
            raise PermanentError("SLACK_CHANNEL is a name, not an id: cannot search history")
        response = call_slack(
            lambda: self.client.conversations_history(
                channel=self.channel_id,
                oldest=f"{since.timestamp():.6f}",
                include_all_metadata=True,
                limit=HISTORY_LIMIT,
            )
        )
        for item in response.get("messages", []):
            payload = (item.get("metadata") or {}).get("event_payload") or {}
            if payload.get("alert_key") == idempotency_key:
                return DeliveryResult(self.name, str(item["ts"]), "found")
        return None


class SlackWebhookNotifier:
    """Posts alerts through an incoming webhook: blocks only, no chart, no message id."""

    min_interval = SLACK_SECONDS_PER_MESSAGE

    def __init__(self, url: str) -> None:
        self.client = WebhookClient(url, retry_handlers=[])
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
            raise TransientError(f"cannot reach Slack webhook: {_describe(error)}") from error
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
        raise TransientError(f"cannot reach Slack: {_describe(error)}") from error


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


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
