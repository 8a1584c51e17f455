"""Three sender processes on one PostgreSQL: one SIGKILLed mid-pass, one frozen past its lease.

The delivery half of issue 12 item 6 (tests/fakes/ha_trials.py runs a trial; bench/ha_trials.py
runs more). With bot tokens every alert must arrive exactly once and in order per channel.
"""

from __future__ import annotations

from tests.fakes.ha_trials import run_ha_trial


def test_three_senders_one_killed_one_frozen_deliver_everything_once_in_order(pg_url):
    result = run_ha_trial(pg_url, queued=60, kill_at=30, stop_at=15)
    assert result.killed and result.stopped, result  # both faults really happened mid-pass
    assert result.queued_rows == 180
    assert (result.duplicates, result.losses, result.order_violations) == (0, 0, 0), result
    assert result.undelivered_rows == 0, result
