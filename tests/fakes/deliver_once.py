"""One delivery pass configured from the environment, run as its own process by crash tests.

It waits for a line on stdin first, so the test can arm the fake server (which kills this
process after accepting its message) before anything is sent.
"""

from __future__ import annotations

import sys

from bot.config import load_settings
from bot.delivery import deliver_pending, policy_from_settings
from bot.notifiers import build_notifiers
from storage.db import open_db


def main() -> None:
    """Wait for the go line, then deliver everything due."""
    sys.stdin.readline()
    settings = load_settings(env_file=None)
    db = open_db(settings.db_path)
    deliver_pending(db, build_notifiers(settings), policy=policy_from_settings(settings))


if __name__ == "__main__":
    main()
