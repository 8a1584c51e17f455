"""Slack adapter: the only module that imports `slack_sdk` / `slack_bolt`.

A bot token plus channel posts with `chat.postMessage` (Block Kit) and uploads the chart into
the alert's thread with `files_upload_v2`; an incoming-webhook URL posts the blocks only
(webhooks cannot upload files). Slack has no idempotency key, so every bot post carries
message metadata (`event_type` rotation_alert, the alert key in `event_payload`) and, when an
earlier attempt's outcome is unknown, `find_existing` looks for it with `conversations.history`
(`include_all_metadata`) before posting again. Webhook posts cannot be looked up.
Alerts carry Acknowledge / Mute 1 day buttons; `SlackDmNotifier` sends them by DM.

Commands: `build_slack_app` registers `/<SLACK_COMMAND_PREFIX><name>` on a bolt `AsyncApp`;
each listener `ack()`s at once, runs the blocking answer (`bot/chat/slack/answers.py`) in a
thread and replies through the response_url. `run_slack` serves it in Socket Mode (default)
or over HTTP (`SLACK_MODE=http`, bolt verifies the signatures) until cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.error import URLError

from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from bot.chat.replies import AckReply
from bot.chat.slack.answers import (
    COMMAND_NAMES,
    SlackAnswer,
    answer_command,
    check_slack_settings,
    error_answer,
    note_answer,
    press_acknowledge,
    press_mute,
    render_chart_of,
    slash_name,
)
from bot.chat.slack.format import (
    ACK_ACTION,
    MUTE_ACTION,
    acknowledged_blocks,
    alert_blocks,
    fallback_text,
    to_slack_blocks,
)
from bot.chat.slack.http_guard import slack_request_guard
from bot.config import ConfigError, Settings
from bot.delivery.limits import SLACK_SECONDS_PER_MESSAGE
from bot.delivery.message import (
    AlertMessage,
    DeliveryError,
    DeliveryResult,
    PermanentError,
    RateLimited,
    TransientError,
)
from bot.safety import escape_slack, is_user_id

if TYPE_CHECKING:
    from bot.chat.core import Commands

log = logging.getLogger(__name__)

EVENT_TYPE = "rotation_alert"
DEFAULT_API_URL = "https://slack.com/api/"
CHART_NAME = "chart.png"
HISTORY_LIMIT = 200  # Slack's recommended page size for conversations.history
HISTORY_MAX_PAGES = 50  # a crash lookup reads at most 10,000 messages, then posts again
EVENTS_PATH = "/slack/events"
DM_PREFIX = "slack:dm:"
_TRANSIENT = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")


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
                "chart for %s not uploaded to %s: %s", message.key, self.name, _describe(error)
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
        if not destination.startswith(DM_PREFIX):
            return None
        return self.dm(destination.removeprefix(DM_PREFIX))


class SlackDmNotifier(SlackBotNotifier):
    """Alerts by DM to one user (`slack:dm:<user id>`): `conversations.open` then post.

    It is a Notifier, so the outbox can carry DM rows with the same retries and look-ups.
    """

    def __init__(self, client: WebClient, user_id: str) -> None:
        if not is_user_id(user_id, "slack"):
            raise PermanentError(f"not a Slack user id: {user_id[:40]!r}")
        self.client, self.user_id = client, user_id
        self.channel, self.channel_id = user_id, None
        self.name = f"{DM_PREFIX}{user_id}"

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


# Slash commands and alert buttons (slack_bolt)


def build_slack_app(
    settings: Settings, commands: Commands, client: AsyncWebClient | None = None
) -> AsyncApp:
    """The bolt app: `/<prefix><name>` for every command, and the alert buttons."""
    client = client or AsyncWebClient(
        token=_secret(settings.slack_bot_token), base_url=api_url(settings.slack_api_url)
    )
    app = AsyncApp(
        client=client, signing_secret=_secret(settings.slack_signing_secret) or "", logger=log
    )
    for name in COMMAND_NAMES:
        command = slash_name(settings.slack_command_prefix, name)
        app.command(command)(_command_listener(commands, name))
    app.action(ACK_ACTION)(_ack_listener(commands))
    app.action(MUTE_ACTION)(_mute_listener(commands))
    return app


def _command_listener(commands: Commands, name: str) -> Callable[..., Awaitable[None]]:
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()  # within Slack's 3 seconds, before any slow work
        user_id, text = str(command.get("user_id", "")), command.get("text")
        answer = await asyncio.to_thread(answer_command, commands, name, text, user_id)
        await _respond(respond, answer)
        if answer.chart and command.get("channel_id"):
            png = await asyncio.to_thread(render_chart_of, commands, answer)
            if png:
                await _upload_chart(client, respond, png, answer, str(command["channel_id"]))

    return on_command


def _ack_listener(commands: Commands) -> Callable[..., Awaitable[None]]:
    async def on_acknowledge(
        ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()
        user_id, key = _pressed(body)
        outcome = await asyncio.to_thread(press_acknowledge, commands, user_id, key)
        if outcome.ack is not None:
            await _show_acknowledged(client, respond, body, outcome.ack)
        if outcome.note is not None:
            await _respond(respond, outcome.note)

    return on_acknowledge


def _mute_listener(commands: Commands) -> Callable[..., Awaitable[None]]:
    async def on_mute(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id, rule_id = _pressed(body)
        await _respond(respond, await asyncio.to_thread(press_mute, commands, user_id, rule_id))

    return on_mute


def _pressed(body: dict[str, Any]) -> tuple[str, str]:
    """Who pressed the button and its value."""
    action = (body.get("actions") or [{}])[0]
    return str((body.get("user") or {}).get("id", "")), str(action.get("value", ""))


async def _respond(respond: AsyncRespond, answer: SlackAnswer) -> None:
    """Answer through the response_url: it works in any channel, member or not, and in DMs."""
    visibility = "ephemeral" if answer.ephemeral else "in_channel"
    try:
        response = await respond(
            text=answer.text,
            blocks=answer.blocks,
            response_type=visibility,
            replace_original=False,
        )
    except Exception as error:  # network trouble: the user sees nothing, the log says why
        log.warning("Slack reply not delivered: %s", _describe(error))
        return
    if response.status_code != 200:
        log.warning("Slack refused a reply: HTTP %s %s", response.status_code, response.body)


async def _upload_chart(
    client: AsyncWebClient, respond: AsyncRespond, png: bytes, answer: SlackAnswer, channel: str
) -> None:
    # Files cannot go through a response_url: upload into the channel, which needs the bot in it.
    try:
        await client.files_upload_v2(
            channel=channel,
            content=png,
            filename=CHART_NAME,
            title=escape_slack(answer.chart_title),
        )
    except (TimeoutError, SlackClientError, OSError) as error:
        reason = _api_error(error)
        log.warning("chart not uploaded to %s: %s", channel, reason)
        note = f"The chart could not be posted here ({reason}). Invite the bot to see charts."
        await _respond(respond, error_answer(note))


async def _show_acknowledged(
    client: AsyncWebClient, respond: AsyncRespond, body: dict[str, Any], reply: AckReply
) -> None:
    """Edit the alert so the channel sees who acknowledged it and when."""
    container, message = body.get("container") or {}, body.get("message") or {}
    channel, ts = container.get("channel_id"), container.get("message_ts") or message.get("ts")
    if not channel or not ts:
        return  # nothing to edit (not a message button)
    try:
        await client.chat_update(
            channel=channel,
            ts=ts,
            text=message.get("text") or "Alert",
            blocks=acknowledged_blocks(message.get("blocks") or [], reply),
            metadata=alert_metadata(reply.alert_key),
        )
    except (TimeoutError, SlackClientError, OSError) as error:
        log.warning("alert %s not updated after its ack: %s", reply.alert_key, _api_error(error))
        note = "Acknowledged, but the alert message could not be updated."
        await _respond(respond, note_answer(note))


def _api_error(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    return _describe(error)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


# Running: Socket Mode (default) or HTTP


async def run_slack(
    settings: Settings,
    commands: Commands,
    *,
    client: AsyncWebClient | None = None,
    host: str = "0.0.0.0",  # noqa: S104  (Slack must reach it; put TLS in front)
    started: asyncio.Event | None = None,
) -> None:
    """Serve commands and buttons until cancelled; ConfigError when a needed token is missing."""
    problems = check_slack_settings(settings)
    if problems:
        raise ConfigError(problems)
    app = build_slack_app(settings, commands, client)
    if settings.slack_mode == "http":
        secret = _secret(settings.slack_signing_secret) or ""
        runner, port = await start_http(app, host, settings.slack_http_port, signing_secret=secret)
        log.info("Slack commands over HTTP on %s:%d%s", host, port, EVENTS_PATH)
        stop: Callable[[], Awaitable[None]] = runner.cleanup
    else:
        handler = AsyncSocketModeHandler(app, _secret(settings.slack_app_token))
        await handler.connect_async()
        log.info("Slack commands over Socket Mode")
        stop = handler.close_async
    try:
        if started is not None:
            started.set()
        await asyncio.Event().wait()  # until the service cancels this task
    finally:
        await stop()


async def start_http(
    app: AsyncApp, host: str, port: int, *, signing_secret: str
) -> tuple[web.AppRunner, int]:
    """Serve `app` at `EVENTS_PATH` behind `slack_request_guard`; the runner and bound port."""
    server = app.server(port=port, path=EVENTS_PATH, host=host)
    server.web_app.middlewares.append(slack_request_guard(signing_secret, EVENTS_PATH))
    runner = web.AppRunner(server.web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner, int(runner.addresses[0][1])
