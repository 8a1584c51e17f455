"""One delivery pass configured from the environment, run as its own process by crash tests.

It waits for a line on stdin first, so the test can arm the fake server (which kills this
process after accepting its message) before anything is sent. `--no-pace` drops the pause
kept between two posts (Slack's one per second, Discord's shared 50 a second), so kill trials
with 150 queued alerts reach post N in a moment instead of minutes; nothing else changes.
`--ready` prints a line once the process is loaded and waiting, so a benchmark can leave
start-up out of its clock.
"""

from __future__ import annotations

import sys

from bot.config import load_settings
from bot.delivery.destinations import build_notifiers
from bot.delivery.sender import deliver_pending, policy_from_settings
from storage.db import open_db


def main() -> None:
    """Wait for the go line, then deliver everything due."""
    if "--ready" in sys.argv[1:]:  # imported and waiting: a bench starts its clock now
        print("ready", flush=True)
    sys.stdin.readline()
    settings = load_settings(env_file=None)
    db = open_db(settings.db_path)
    notifiers = build_notifiers(settings)
    if "--no-pace" in sys.argv[1:]:
        for notifier in notifiers:
            notifier.min_interval = 0.0
            notifier.pacing_interval = 0.0  # the shared global pace too (a hold still counts)
    deliver_pending(db, notifiers, policy=policy_from_settings(settings))


if __name__ == "__main__":
    main()
