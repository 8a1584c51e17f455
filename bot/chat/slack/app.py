"""Slack commands and alert buttons: the inbound half of the Slack adapter (slack_bolt).

`build_slack_app` registers `/<SLACK_COMMAND_PREFIX><name>` on a bolt `AsyncApp`; each
listener `ack()`s at once, runs the blocking answer (`bot/chat/slack/answers.py`) in a thread
and replies through the response_url. `run_slack` serves it in Socket Mode (default) or over
HTTP (`SLACK_MODE=http`, bolt verifies the signatures) until cancelled. Alert posting is the
delivery side's (`bot.delivery.slack`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import SecretStr
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.chart_pool import CHARTED_COMMANDS, Busy, chart_pool
from bot.chat.replays import SharedReplays
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
from bot.chat.slack.format import acknowledged_blocks
from bot.chat.slack.http_bolt import bolt_handler
from bot.chat.slack.http_guard import slack_request_guard
from bot.chat.slack.rules import ACTION_VERBS, press_rule_button, without_buttons
from bot.chat.slack.socket_mode import serve_socket_mode
from bot.config import ConfigError, Settings
from bot.delivery.slack import CHART_NAME, alert_metadata, api_url, describe_error
from bot.delivery.slack_alert import ACK_ACTION, MUTE_ACTION
from bot.platforms import SLACK, escape_slack
from bot.service.web import Mounted, mount

if TYPE_CHECKING:
    from bot.chat.core import Commands

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"


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
    for action_id in ACTION_VERBS:
        app.action(action_id)(_rule_press_listener(commands, action_id))
    return app


def _command_listener(commands: Commands, name: str) -> Callable[..., Awaitable[None]]:
    async def on_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        await ack()  # within Slack's 3 seconds, before any slow work
        user_id, text = str(command.get("user_id", "")), command.get("text")
        pool, user = chart_pool(), f"{SLACK.name}:{user_id}"
        if name not in CHARTED_COMMANDS:
            answer = await asyncio.to_thread(answer_command, commands, name, text, user_id)
            await _answer_with_chart(commands, answer, command, respond, client)
            return
        try:
            pool.enter(user)
        except Busy as busy:
            await _respond(respond, error_answer(busy.message))
            return
        try:  # the text answer needs only the database: it comes before the queued charts
            answer = await asyncio.to_thread(answer_command, commands, name, text, user_id)
            await _answer_with_chart(commands, answer, command, respond, client)
        finally:
            pool.leave(user)

    return on_command


async def _answer_with_chart(
    commands: Commands,
    answer: SlackAnswer,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: AsyncWebClient,
) -> None:
    """The answer first, then its chart (drawn in the chart pool) when it has one."""
    await _respond(respond, answer)
    if answer.chart and command.get("channel_id"):
        png = await chart_pool().run(lambda: render_chart_of(commands, answer))
        if png:
            await _upload_chart(client, respond, png, answer, str(command["channel_id"]))
    for title, extra in answer.more_charts if command.get("channel_id") else ():
        more = replace(answer, chart_title=title)
        await _upload_chart(client, respond, extra, more, str(command["channel_id"]))


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
        if outcome.ack is not None and outcome.ack.first:  # and on every other copy
            who, pressed = _presser_name(body), _pressed_ts(body)
            await asyncio.to_thread(commands.show_ack_everywhere, outcome.ack, who, pressed)

    return on_acknowledge


def _presser_name(body: dict[str, Any]) -> str:
    user = body.get("user") or {}
    return str(user.get("name") or user.get("username") or user.get("id") or "")


def _pressed_ts(body: dict[str, Any]) -> str | None:
    container, message = body.get("container") or {}, body.get("message") or {}
    ts = container.get("message_ts") or message.get("ts")
    return str(ts) if ts else None


def _mute_listener(commands: Commands) -> Callable[..., Awaitable[None]]:
    async def on_mute(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id, rule_id = _pressed(body)
        await _respond(respond, await asyncio.to_thread(press_mute, commands, user_id, rule_id))

    return on_mute


def _rule_press_listener(commands: Commands, action_id: str) -> Callable[..., Awaitable[None]]:
    async def on_rule_press(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id, token = _pressed(body)
        press = await asyncio.to_thread(press_rule_button, commands, user_id, action_id, token)
        if press.settled:
            await _take_buttons_off(respond, body)
        await _respond(respond, note_answer(press.text, ephemeral=not press.settled))

    return on_rule_press


async def _take_buttons_off(respond: AsyncRespond, body: dict[str, Any]) -> None:
    """The settled preview stays in the channel without its Save and Cancel buttons."""
    message = body.get("message") or {}
    try:
        await respond(
            text=message.get("text") or "Rule preview",
            blocks=without_buttons(message.get("blocks") or []),
            replace_original=True,
        )
    except Exception as error:  # the outcome is still posted; the log says why
        log.warning("rule preview not updated: %s", describe_error(error))


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
        log.warning("Slack reply not delivered: %s", describe_error(error))
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
    return describe_error(error)


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
    if settings.slack_mode != "http":
        await serve_socket_mode(app, _secret(settings.slack_app_token), started=started)
        return
    secret = _secret(settings.slack_signing_secret) or ""
    shared = SharedReplays(lambda: commands.db)  # a replay to any replica is refused
    runner, port = await start_http(
        app, host, settings.slack_http_port, signing_secret=secret, shared=shared
    )
    log.info("Slack commands over HTTP on %s:%d%s", host, port, EVENTS_PATH)
    try:
        if started is not None:
            started.set()
        await asyncio.Event().wait()  # until the service cancels this task
    finally:
        await runner.cleanup()


async def start_http(
    app: AsyncApp, host: str, port: int, *, signing_secret: str, shared: SharedReplays | None = None
) -> tuple[Mounted, int]:
    """Serve `app` at `EVENTS_PATH` behind `slack_request_guard` on the port's shared web server.

    Returns the mount (its `cleanup()` stops serving) and the bound port.
    """
    guard, dispatch = (
        slack_request_guard(signing_secret, EVENTS_PATH, shared=shared),
        bolt_handler(app),
    )

    async def events(request: web.Request) -> web.StreamResponse:
        return await guard(request, dispatch)

    mounted = await mount(host, port, {("POST", EVENTS_PATH): events})
    return mounted, mounted.port
