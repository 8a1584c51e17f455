"""Whether the running task is being cancelled: for retry loops around chat SDKs.

A cancel can reach an SDK's connect while a timeout fires, and come out as a TimeoutError or
a client error (asyncio.timeout, aiohttp). A loop that retries every failure would then keep
a stopping service alive forever, so it asks this first.
"""

from __future__ import annotations

import asyncio


def being_cancelled() -> bool:
    """True when the current task has a cancel pending (Python 3.11's `Task.cancelling`)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
