"""Acknowledged once, shown everywhere: edit every other posted copy of an acknowledged alert.

The button's own message is edited by the chat side that answered the press; this module
edits the others (the same alert on the other platform, in other routed channels, in DMs,
and its reminders), found through the outbox's message ids. Each platform's posting module
does the edit (`show_acknowledged(settings, destination, message_id, note)`). An edit is an
external call like a post: a transient failure or a 429 is retried a few times with backoff,
and a copy that still cannot be edited is logged with the reason. The acknowledgement itself
is already recorded and stays.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.config import Settings
from bot.delivery.destinations import posting_module
from bot.delivery.message import DeliveryError, RateLimited, TransientError, redact
from bot.platforms import platform_of
from storage.db import Store
from storage.outbox_copies import PostedCopy, posted_copies

log = logging.getLogger(__name__)

EDIT_ATTEMPTS = 3
EDIT_BASE_DELAY = 1.0  # seconds, doubled per retry


@dataclass(frozen=True)
class AckNote:
    """Who acknowledged, on which platform (its title) and when (ISO stamp); plain text."""

    who: str
    platform: str
    acked_at: str

    @property
    def moment(self) -> datetime:
        """When, in UTC."""
        return datetime.fromisoformat(self.acked_at).astimezone(UTC)

    def text(self) -> str:
        """`Acknowledged by Ann on Slack at 2026-11-20 21:40 UTC`."""
        when = self.moment.strftime("%Y-%m-%d %H:%M UTC")
        return f"Acknowledged by {self.who} on {self.platform} at {when}"


def show_acknowledged_everywhere(
    db: Store,
    settings: Settings,
    alert_key: str,
    note: AckNote,
    *,
    pressed: tuple[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Edit every posted copy but `pressed` (platform name, message id); destination -> outcome."""
    outcomes: dict[str, str] = {}
    for copy in posted_copies(db, alert_key):
        platform = platform_of(copy.destination)
        if platform is None or (platform.name, copy.message_id) == pressed:
            continue  # the console keeps no message; the pressed one is edited by its handler
        edit = getattr(posting_module(platform), "show_acknowledged", None)
        if edit is not None:
            outcomes[copy.destination] = _edit(edit, settings, copy, note, sleep)
    return outcomes


Edit = Callable[[Settings, str, str, AckNote], None]


def _edit(
    edit: Edit, settings: Settings, copy: PostedCopy, note: AckNote, sleep: Callable[[float], None]
) -> str:
    for attempt in range(1, EDIT_ATTEMPTS + 1):
        try:
            edit(settings, copy.destination, copy.message_id, note)
            log.info("acknowledgement of %s shown on %s", copy.dedupe_key, copy.destination)
            return "edited"
        except (TransientError, RateLimited) as error:
            if attempt == EDIT_ATTEMPTS:
                return _failed(copy, error, attempt)
            sleep(_delay(error, attempt))
        except DeliveryError as error:
            return _failed(copy, error, attempt)
    return "failed"  # not reached: the last attempt returns


def _delay(error: DeliveryError, attempt: int) -> float:
    if isinstance(error, RateLimited):
        return error.retry_after
    return EDIT_BASE_DELAY * 2 ** (attempt - 1)


def _failed(copy: PostedCopy, error: DeliveryError, attempts: int) -> str:
    log.warning(
        "acknowledgement of %s not shown on %s (message %s) after %d attempt(s): %s",
        copy.dedupe_key, copy.destination, copy.message_id, attempts, redact(str(error)),
    )  # fmt: skip
    return f"failed: {redact(str(error))}"
