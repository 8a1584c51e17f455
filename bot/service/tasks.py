"""The service's long-lived tasks: none may end unnoticed while the process lives on.

The worker and the leadership loop are supervised: if either ends on its own (a bug, an
error nothing handled), the service stops with code 1 instead of living on half alive (a
leader whose worker is gone still renews its lease and heartbeat: a zombie). The chat
adapters are guarded: one that crashes is reported, alerts still flow through REST.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from bot.service.db_outage import one_line
from storage.db import StorageError

log = logging.getLogger(__name__)

# `rotation-bot run`'s exit codes besides 0.
TASK_DIED = 1
DATABASE_UNREACHABLE = 2


def supervised(
    coro: Coroutine[Any, Any, None], name: str, on_end: Callable[[str], None]
) -> asyncio.Task[None]:
    """Run `coro` as a task; `on_end(reason)` if it ends on its own (not cancelled)."""

    def ended(task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("the %s task died", name, exc_info=error)
        on_end(f"the {name} task ended: the process cannot go on")

    task = asyncio.create_task(coro, name=name)
    task.add_done_callback(ended)
    return task


async def guarded(coro: Coroutine[Any, Any, None]) -> None:
    """Await an adapter; an error is reported (alerts still flow via REST), never raised."""
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s stopped with an error", getattr(coro, "__name__", coro))


def unreachable_at_start(error: StorageError) -> int:
    """Log why the service cannot start (one line) and return its exit code."""
    log.error(
        "cannot reach the database at start (%s): exiting; start the bot again once it is "
        "up (systemd and docker compose do)",
        one_line(error),
    )
    return DATABASE_UNREACHABLE
