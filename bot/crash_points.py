"""Named commit points on an alert's path, where a test may have the process killed.

The path price -> evaluation -> record -> queue -> claim -> post -> delivered passes
`crash_point(name)` right after each step is done (committed, or sent). With
`ROTATION_TEST_CRASH_AT=<point>:<n>` in its environment a process SIGKILLs itself the n-th
time it passes `<point>` (n defaults to 1), as a power cut there would: no `finally`, no
flush. Unset (always, outside tests) a pass costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from functools import cache

from bot.config import test_crash_at

# In the order an alert passes them.
POINTS = (
    "prices",  # the session's bars stored (service refresh)
    "evaluated",  # every rule evaluated, nothing recorded yet
    "recorded",  # events, states and owed marks committed
    "drawn",  # an owed alert's chart drawn, its rows not yet written
    "queued",  # an alert's outbox rows committed (its owed mark cleared)
    "claimed",  # a row claimed for sending
    "posted",  # the platform accepted the post, its row not yet marked
    "delivered",  # the row marked delivered
)
_passes: Counter[str] = Counter()


@cache
def _target() -> tuple[str, int] | None:
    spec = test_crash_at()
    if not spec:
        return None
    point, _, count = spec.partition(":")
    if point not in POINTS:
        raise ValueError(f"ROTATION_TEST_CRASH_AT: unknown point {point!r} (one of {POINTS})")
    return point, int(count or 1)


def crash_point(name: str) -> None:
    """Pass the commit point `name`; the process dies here if a test asked for it."""
    target = _target()
    if target is None or target[0] != name:
        return
    _passes[name] += 1
    if _passes[name] == target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
