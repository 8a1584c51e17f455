"""Rate-limited logging for what strangers can cause: one line per kind per minute, with a count.

A hostile request costs the sender a few bytes; a traceback per request would cost the disk
kilobytes, hundreds of times a second. `once_per_minute` is for our own refusals (the first of
a kind is logged, the rest are counted and reported with the next line of that kind a minute
later). `OncePerMinute` is a logging filter for libraries we do not control (aiohttp's
"Error handling request", asyncio's accept errors): it keeps the first record of each kind
per minute as one line, its traceback replaced by the exception's type and message.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

WINDOW = 60.0  # seconds

Clock = Callable[[], float]


class Tally:
    """When each kind was last logged and how many of it were held back since."""

    def __init__(self, window: float = WINDOW, now: Clock = time.monotonic) -> None:
        self.window, self.now = window, now
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, kind: str) -> int | None:
        """None to hold this one back; else how many were held back before it (maybe 0)."""
        with self._lock:
            now, last = self.now(), self._last.get(kind)
            if last is not None and now - last < self.window:
                self._held[kind] = self._held.get(kind, 0) + 1
                return None
            self._last[kind] = now
            if len(self._last) > 1000:  # kinds are few; bound them anyway
                self._last.pop(next(iter(self._last)))
            return self._held.pop(kind, 0)

    def reset(self) -> None:
        """Forget every kind."""
        with self._lock:
            self._last.clear()
            self._held.clear()


_TALLY = Tally()


def once_per_minute(logger: logging.Logger, kind: str, message: str, *args: object) -> None:
    """Log `message` as a warning unless `kind` was logged in the last minute (then count it)."""
    held = _TALLY.admit(f"{logger.name}:{kind}")
    if held is None:
        return
    suffix = f" (and {held} more like it in the last minute)" if held else ""
    logger.warning(message + "%s", *args, suffix)


class OncePerMinute(logging.Filter):
    """Keep one record per logger, message and exception type per minute, as one line.

    Only records whose message starts with one of `prefixes` (all when empty) are limited;
    the others pass untouched, traceback and all.
    """

    def __init__(self, prefixes: tuple[str, ...] = (), tally: Tally | None = None) -> None:
        super().__init__()
        self.prefixes, self.tally = prefixes, tally or Tally()

    def filter(self, record: logging.LogRecord) -> bool:
        """False to drop the record; otherwise it is rewritten to one line with the count."""
        if self.prefixes and not str(record.msg).startswith(self.prefixes):
            return True
        error = record.exc_info[1] if record.exc_info else None
        kind = f"{record.name}:{record.msg}:{type(error).__name__}"
        held = self.tally.admit(kind)
        if held is None:
            return False
        text = record.getMessage()
        if error is not None:
            text += f": {type(error).__name__}: {str(error)[:200]}"
        if held:
            text += f" (and {held} more like it in the last minute)"
        record.msg, record.args = text.replace("\n", " "), None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


# Where hostile traffic reaches the log through a library: every aiohttp server error is
# caused by a client; of asyncio's, the accept loop's (out of file descriptors) and transports'.
LIBRARY_LOGGERS = {
    "aiohttp.server": (),
    "asyncio": ("socket.accept()", "socket.send()", "Fatal error on", "Fatal read error"),
}


def quiet_library_errors() -> None:
    """Rate-limit the loggers through which hostile traffic reaches the log (idempotent)."""
    for name, prefixes in LIBRARY_LOGGERS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, OncePerMinute) for f in logger.filters):
            logger.addFilter(OncePerMinute(prefixes))


def forget_logged() -> None:
    """Start every kind afresh (each test starts with an empty log)."""
    _TALLY.reset()
