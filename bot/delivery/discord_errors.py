"""discord.py and aiohttp failures as the delivery's error types (permanent, transient, 429)."""

from __future__ import annotations

import asyncio

import aiohttp
import discord

from bot.delivery.message import DeliveryError, PermanentError, RateLimited, TransientError


def delivery_error(error: BaseException) -> DeliveryError:
    """Our error type for a discord.py / aiohttp failure (permanent, transient or 429)."""
    if isinstance(error, discord.RateLimited):
        return RateLimited(f"Discord rate limit: {error}", error.retry_after)
    if isinstance(error, discord.LoginFailure):
        return PermanentError("Discord rejected the bot token (401)")
    if isinstance(error, discord.HTTPException):
        return _http_error(error)
    if isinstance(error, (aiohttp.ClientError, OSError, asyncio.TimeoutError)):
        return TransientError(f"cannot reach Discord: {type(error).__name__}: {error}")
    if isinstance(error, ValueError):  # discord.py refused the payload (e.g. a bad webhook URL)
        return PermanentError(f"Discord payload or URL rejected: {error}")
    return TransientError(f"{type(error).__name__}: {error}")


def _http_error(error: discord.HTTPException) -> DeliveryError:
    detail = f"Discord HTTP {error.status} (code {error.code}): {error.text}"
    if error.status == 429:  # without a `Via` header: Cloudflare, wait longer
        retry_after = float(error.response.headers.get("Retry-After", 60))
        return RateLimited(detail, retry_after)
    if error.status >= 500 or error.status == 408:
        return TransientError(detail)
    return PermanentError(detail)
