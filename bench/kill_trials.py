"""Kill trials: exactly once with bot tokens when the sender dies after post N > 100.

Usage: python bench/kill_trials.py [--trials N] [--queued Q] [--seed S]   (default 20, 150, 1)

Per platform (Discord bot token, Slack bot token) and trial: Q alerts queued for one channel,
a real sender process killed by the local stand-in right after the platform accepted post N
(N drawn from 101..Q, beyond one history page), the restart after Discord's nonce window with
people's messages posted in between (0-300), then the duplicates and losses in the channel.
Target: 0 duplicates and 0 losses. No network, no shared data: only the local stand-ins.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes

from tests.fakes.kill_trials import TrialResult, run_trial

PAGE = 100  # Discord's largest history page: N is always beyond it


def main() -> None:
    """Run the trials and print one line per platform plus each unclean trial."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--queued", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.queued <= PAGE:
        parser.error(f"--queued must exceed one history page ({PAGE})")
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as workdir:
        for platform in ("discord", "slack"):
            results = [
                run_trial(
                    platform,
                    Path(workdir),
                    queued=args.queued,
                    kill_at=rng.randint(PAGE + 1, args.queued),
                    chatter=rng.randint(0, 300),
                )
                for _ in range(args.trials)
            ]
            report(platform, results)


def report(platform: str, results: list[TrialResult]) -> None:
    """One summary line, then a line for every trial that lost or duplicated something."""
    duplicates = sum(r.duplicates for r in results)
    losses = sum(r.losses for r in results)
    kills = sorted(r.killed_at for r in results)
    seconds = sum(r.seconds for r in results) / len(results)
    print(
        f"{platform:<8} trials {len(results)}  queued {results[0].queued}  killed after post"
        f" {kills[0]}..{kills[-1]}  duplicates {duplicates}  losses {losses}"
        f"  (target 0 and 0)  {seconds:.1f} s/trial"
    )
    for result in results:
        if not result.clean:
            print(f"  unclean: {result}")


if __name__ == "__main__":
    main()
