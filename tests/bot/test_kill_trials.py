"""Exactly once with bot tokens in a busy channel: the sender is killed after post N > 100.

Each trial starts a real sender process with 150 alerts queued for one channel; the stand-in
kills it right after accepting post N (beyond one history page), forgets its nonces (the
restart is after Discord's nonce window) and others post in the channel before the restart.
bench/kill_trials.py runs the same trial 20+ times per platform; here a few keep the suite fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.kill_trials import run_trial


@pytest.mark.parametrize(
    ("platform", "kill_at", "chatter"),
    [
        ("discord", 101, 0),  # the first post a single `after` page cannot see
        ("discord", 140, 60),
        ("slack", 120, 250),  # people's messages push the post past the first page
    ],
)
def test_killed_after_post_beyond_one_page_posts_each_alert_once(
    tmp_path: Path, platform, kill_at: int, chatter: int
) -> None:
    result = run_trial(platform, tmp_path, queued=150, kill_at=kill_at, chatter=chatter)
    assert (result.duplicates, result.losses, result.undelivered_rows) == (0, 0, 0), result
