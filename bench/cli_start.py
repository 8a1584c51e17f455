"""How fast the command line starts, against the floor of `python -c "import typer"`.

Usage: python bench/cli_start.py [RUNS] [--source]   (default 7; from the project root)

Each command runs in a fresh process on a scratch database (its first run, which creates and
migrates the database and caches the NYSE calendar beside it, is not counted). Goal (issues 13
and 22): within 3x the floor for every command that needs no pandas: `--help` of every group,
`--version`, and `status`, `outbox` and `rules list`, which read the database (storage hides
pandas from sqlite-utils, `signals.windows`/`signals.names` parse rules without it).

Processes run as an installed bot starts: with its modules' bytecode already compiled (pip
compiles it at install, as the Dockerfile's `pip install .` does), kept here in a scratch
PYTHONPYCACHEPREFIX by the uncounted first run. With PYTHONDONTWRITEBYTECODE set, an editable
install compiles every project module at every start: `--source` measures that instead.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PYTHON = sys.executable
CLI = str(Path(PYTHON).with_name("rotation-bot"))
COMMANDS: list[tuple[str, list[str], bool]] = [  # label, argv, held to the 3x goal
    ("--help", [CLI, "--help"], True),
    ("--version", [CLI, "--version"], True),
    ("prices --help", [CLI, "prices", "--help"], True),
    ("series --help", [CLI, "series", "--help"], True),
    ("rules --help", [CLI, "rules", "--help"], True),
    ("rules list", [CLI, "rules", "list"], True),
    ("outbox", [CLI, "outbox"], True),
    ("status", [CLI, "status"], True),
]


def median_seconds(argv: list[str], runs: int, env: dict[str, str]) -> float:
    """The median CPU seconds of `runs` fresh processes (wall time is noise on a busy machine)."""
    times = []
    for _ in range(runs):
        before = _children_cpu()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        times.append(_children_cpu() - before)
    return statistics.median(times)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    numbers = [arg for arg in sys.argv[1:] if arg.isdigit()]
    runs = int(numbers[0]) if numbers else 7
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "ROTATION_DB": str(Path(scratch) / "bench.db")}
        if "--source" not in sys.argv:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(scratch) / "pycache")
        subprocess.run([CLI, "status"], env=env, capture_output=True, check=False)  # migrate
        floor_argv = [PYTHON, "-c", "import typer"]
        for argv in [floor_argv] + [argv for _label, argv, _held in COMMANDS]:
            subprocess.run(argv, env=env, capture_output=True, check=False)  # bytecode, uncounted
        floor = median_seconds(floor_argv, runs, env)
        compiled = "at every start (--source)" if "--source" in sys.argv else "once, as installed"
        print(f"bytecode compiled {compiled}")
        print(f"floor: python -c 'import typer'  {floor * 1000:6.0f} ms")
        for label, argv, held in COMMANDS:
            took = median_seconds(argv, runs, env)
            verdict = ("ok" if took <= 3 * floor else "OVER") if held else "(opens the db)"
            print(f"{label:<15} {took * 1000:6.0f} ms  {took / floor:4.1f}x floor  {verdict}")


if __name__ == "__main__":
    main()
