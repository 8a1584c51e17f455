"""Run the service with one slow catch-up evaluation, for the SIGTERM test (a subprocess)."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.config import load_settings
from bot.service.runner import Service
from tests.fakes.recording_jobs import RecordingJobs


def main(directory: Path) -> int:
    """Start the live service on the real clock; the first-start catch-up takes 1.5 s."""
    settings = load_settings(None)
    jobs = RecordingJobs(evaluate_seconds=1.5, marker_dir=directory)
    service = Service(settings, jobs, db_path=directory / "rotation.db")
    assert datetime.now(UTC)  # real clock: the catch-up evaluates the latest session
    return asyncio.run(service.run())


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
