"""Crash points: `check --deliver` and `run` SIGKILLed at every commit point, on both engines.

Usage: python bench/crash_points.py [--trials N] [--seed S] [--engines sqlite,postgresql]
                                    [--commands check,run]   (default 3 trials, seed 1, all)

Per engine, command and commit point (tests/fakes/crash_kit.py: evaluated, recorded, drawn,
queued, claimed, posted, delivered), N trials: a fresh copy of a primed database with seven
alerts to post, the real process killed by `ROTATION_TEST_CRASH_AT=<point>:<n>` (n drawn from
the times the run passes that point), then run again, and the Discord channel's arrivals
compared with the alerts on record. With `run` among the commands, `prices` too: a replica
that fetches (`run-fetching`) from a Yahoo stand-in, on a database without the bars that fire,
killed after a refresh stored them. Target: 0 lost, 0 repeated, 0 out of order. PostgreSQL
needs the server binaries (a throwaway cluster, as in the tests). No network, no shared data.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.fakes

from tests.fakes import crash_kit
from tests.fakes.crash_kit import FETCH_POINTS
from tests.fakes.discord_api import FakeDiscord
from tests.pg_cluster import Cluster, start_cluster

# How often one run passes each point: once per check, once per session in a catch-up of
# five sessions, once per alert (seven) from drawing on.
PASSES = {("check", "evaluated"): 1, ("check", "recorded"): 1}
PASSES |= {("run", "evaluated"): 5, ("run", "recorded"): 5, ("run-fetching", "prices"): 5}


def main() -> None:
    """Run every trial and print one line per engine, command and point, then the totals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--commands", default="check,run")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    fake = FakeDiscord(nonce_window=0).start()
    totals = [0, 0, 0, 0, 0]  # trials, killed, lost, repeated, out of order
    try:
        with tempfile.TemporaryDirectory() as workdir:
            for engine in args.engines.split(","):
                run_engine(engine, Path(workdir), fake, args, rng, totals)
    finally:
        fake.stop()
    trials, killed, lost, repeated, disordered = totals
    points = len(crash_kit.POINTS) + ("run" in args.commands.split(",")) * len(FETCH_POINTS)
    print(
        f"total: {points} crash points, {trials} trials ({killed} killed):"
        f" lost {lost}, repeated {repeated}, out of order {disordered}"
    )


def run_engine(
    engine: str,
    folder: Path,
    fake: FakeDiscord,
    args: argparse.Namespace,
    rng: random.Random,
    totals: list[int],
) -> None:
    """Every command and point on one engine."""
    cluster = start_cluster() if engine == "postgresql" else None
    try:
        env = crash_kit.base_env(folder, fake)
        template = cluster.new_database() if cluster else str(folder / f"{engine}.db")
        crash_kit.prepare_template(template, env)
        for command in args.commands.split(","):
            for point in crash_kit.POINTS:
                trials = [
                    one_trial(engine, command, point, folder, template, env, fake, rng, cluster)
                    for _ in range(args.trials)
                ]
                report(engine, command, point, trials, totals)
        if "run" in args.commands.split(","):
            run_fetching(engine, folder, fake, args, rng, totals, cluster)
    finally:
        if cluster is not None:
            cluster.stop()


def run_fetching(
    engine: str,
    folder: Path,
    fake: FakeDiscord,
    args: argparse.Namespace,
    rng: random.Random,
    totals: list[int],
    cluster: Cluster | None,
) -> None:
    """The points only a fetching `run` passes, its new bars served by a Yahoo stand-in."""
    yahoo = crash_kit.start_yahoo(folder)
    try:
        env = crash_kit.fetch_env(crash_kit.base_env(folder, fake), yahoo, folder)
        template = cluster.new_database() if cluster else str(folder / f"{engine}-fetch.db")
        crash_kit.prepare_fetch_template(template, env)
        for point in FETCH_POINTS:
            trials = [
                one_trial(engine, "run-fetching", point, folder, template, env, fake, rng, cluster)
                for _ in range(args.trials)
            ]
            report(engine, "run-fetching", point, trials, totals)
    finally:
        yahoo.__exit__()


def one_trial(
    engine: str,
    command: str,
    point: str,
    folder: Path,
    template: str,
    env: dict[str, str],
    fake: FakeDiscord,
    rng: random.Random,
    cluster: Cluster | None,
) -> tuple[crash_kit.Outcome, str, float]:
    """One kill and restart; the outcome, the crash asked for and the seconds it took."""
    crash = f"{point}:{rng.randint(1, PASSES.get((command, point), 7))}"
    started = time.monotonic()
    name = f"trial_{time.monotonic_ns()}"
    target = crash_kit.copy_of(template, folder, name, cluster)
    try:
        outcome = crash_kit.trial(command, target, env, fake, crash)
    finally:
        if cluster is not None:
            cluster.drop_database(target)
    return outcome, crash, time.monotonic() - started


def report(
    engine: str,
    command: str,
    point: str,
    trials: list[tuple[crash_kit.Outcome, str, float]],
    totals: list[int],
) -> None:
    """One line for the point; every unclean trial named."""
    outcomes = [outcome for outcome, _, _ in trials]
    counts = [
        len(outcomes),
        sum(o.killed for o in outcomes),
        sum(o.lost for o in outcomes),
        sum(o.repeated for o in outcomes),
        sum(o.out_of_order for o in outcomes),
    ]
    for index, value in enumerate(counts):
        totals[index] += value
    seconds = sum(s for _, _, s in trials) / len(trials)
    crashes = " ".join(crash for _, crash, _ in trials)
    print(
        f"{engine:<10} {command:<12} {point:<9} trials {counts[0]} killed {counts[1]}"
        f"  lost {counts[2]} repeated {counts[3]} out of order {counts[4]}"
        f"  ({crashes}; {seconds:.1f} s each)",
        flush=True,
    )
    for outcome, crash, _ in trials:
        if outcome.lost or outcome.repeated or outcome.out_of_order:
            print(f"  UNCLEAN {crash}: received {outcome.received}", flush=True)


if __name__ == "__main__":
    main()
