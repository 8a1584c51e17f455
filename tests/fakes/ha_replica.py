"""One replica of `rotation-bot run` for the high-availability tests (a subprocess).

Composed exactly as `rotation-bot run` composes it (`bot.cli.run`: the same `Leadership`
on the database's lease, `ServiceJobs`, `Service`, the notifiers from the environment), with
two differences a test needs: the clock is frozen at `--now` (the evening of the last session
in the shared data, so the catch-up has real sessions to evaluate and no slot fires), and
nothing is fetched (`network=False`: evaluations read the prices the test imported) unless
`--fetch` is given: then each evaluation first refreshes the prices from ROTATION_YAHOO_URL
(a Yahoo stand-in), as the service does live.

    python -m tests.fakes.ha_replica --now 2026-07-31T22:00:00+00:00 [--fetch]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime

from bot.config import load_settings
from bot.delivery.wake import wake_on_queued
from bot.logging_setup import configure_logging
from bot.service.jobs import ServiceJobs
from bot.service.leader import Leadership
from bot.service.runner import Service
from tests.fakes.clocks import FrozenClock


def main(argv: list[str]) -> int:
    """Run one replica until SIGTERM (settings from the environment, ROTATION_DB a URL)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--now", required=True, type=datetime.fromisoformat)
    parser.add_argument("--fetch", action="store_true", help="refresh prices before evaluating")
    args = parser.parse_args(argv)
    now = args.now
    settings = load_settings(None)
    redact = configure_logging(settings)
    jobs = ServiceJobs(settings, settings.db_path, network=args.fetch)  # type: ignore[arg-type]
    leadership = Leadership.for_database(settings.db_path, settings.leader_lease_seconds)
    # Any replica's enqueue wakes this one's sender (LISTEN/NOTIFY), as in `rotation-bot run`.
    wakeups = [wake_on_queued(settings.db_path, lambda: service.wake_sender())]
    service = Service(
        settings, jobs, db_path=settings.db_path, clock=FrozenClock(now),  # type: ignore[arg-type]
        redact=redact, leadership=leadership, extra_tasks=wakeups,
    )  # fmt: skip
    jobs.leads = service.is_leader
    try:
        return asyncio.run(service.run())
    finally:
        jobs.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
