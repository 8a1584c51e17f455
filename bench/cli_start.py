"""How fast the command line starts, against the floor of `python -c "import typer"`.

Usage: python bench/cli_start.py [RUNS]   (default 7; run from the project root, venv active)

Each command runs in a fresh process on a scratch database (its first run, which creates and
migrates the database, is not counted). Goal (issue 13): within 3x the floor for every command
that does not need pandas; `--help` and `--version` import no pandas, sqlite-utils or
pydantic. Commands that open the database load pandas through sqlite-utils, which imports it
whenever it is installed: their ratio is reported, not held to the goal.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
CLI = str(Path(PYTHON).with_name("rotation-bot"))
COMMANDS: list[tuple[str, list[str], bool]] = [  # label, argv, held to the 3x goal
    ("--help", [CLI, "--help"], True),
    ("--version", [CLI, "--version"], True),
    ("prices --help", [CLI, "prices", "--help"], True),
    ("rules list", [CLI, "rules", "list"], False),
    ("outbox", [CLI, "outbox"], False),
    ("status", [CLI, "status"], False),
]


def median_seconds(argv: list[str], runs: int, env: dict[str, str]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "ROTATION_DB": str(Path(scratch) / "bench.db")}
        subprocess.run([CLI, "outbox"], env=env, capture_output=True, check=False)  # migrate
        floor = median_seconds([PYTHON, "-c", "import typer"], runs, env)
        print(f"floor: python -c 'import typer'  {floor * 1000:6.0f} ms")
        for label, argv, held in COMMANDS:
            took = median_seconds(argv, runs, env)
            verdict = ("ok" if took <= 3 * floor else "OVER") if held else "(opens the db)"
            print(f"{label:<15} {took * 1000:6.0f} ms  {took / floor:4.1f}x floor  {verdict}")


if __name__ == "__main__":
    main()
