"""A `Jobs` implementation that records every call, for service tests (a real class, no mocks)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from bot.calendar import NEW_YORK


def local(moment: datetime) -> str:
    """`YYYY-MM-DD HH:MM` in New York, how the tests spell instants."""
    return moment.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M")


@dataclass
class RecordingJobs:
    """Records (kind, session, New York time, alert) per call; optionally slow evaluations."""

    evaluate_seconds: float = 0.0
    marker_dir: Path | None = None  # files written when a slow evaluation starts and ends
    calls: list[tuple[str, str, str, bool | None]] = field(default_factory=list)

    def _record(self, kind: str, session: date | None, now: datetime, alert: bool | None) -> None:
        self.calls.append((kind, session.isoformat() if session else "", local(now), alert))

    def kinds(self) -> list[str]:
        """Just the job kinds, in call order."""
        return [call[0] for call in self.calls]

    async def refresh_intraday(self, now: datetime) -> None:
        """Record."""
        self._record("intraday", None, now, None)

    async def evaluate_session(self, session: date, now: datetime, *, alert: bool) -> int:
        """Record; sleep in a thread like real blocking work when asked to be slow."""
        self._record("evaluate", session, now, alert)
        if self.evaluate_seconds:
            self._mark("started")
            await asyncio.to_thread(__import__("time").sleep, self.evaluate_seconds)
            self._mark("finished")
        return 1

    def _mark(self, name: str) -> None:
        if self.marker_dir is not None:
            (self.marker_dir / name).write_text("x")

    async def snapshot_after_close(self, session: date, now: datetime) -> None:
        """Record."""
        self._record("snapshot", session, now, None)

    async def send_digest(self, session: date, now: datetime) -> None:
        """Record."""
        self._record("digest", session, now, None)

    def due_retry(self, now: datetime) -> date | None:
        """Never a refresh to try again."""
        return None

    def stop(self) -> None:
        """Nothing to cut short."""

    async def deliver(self) -> Mapping[str, int]:
        """Record (with no instant: delivery is not planned for a moment)."""
        self.calls.append(("deliver", "", "", None))
        return {"delivered": 0}
