"""Many rules: `rules validate` and `check` with 1,000 to 10,000 generated rules.

Usage: python bench/many_rules.py [N ...] [--data DIR] [--source]   (default N: 1000 10000 50000)

Imports the shared prices and FRED rates into a temporary SQLite database once (through
`prices import` and `series import`), then for each N writes a rules file of N generated
rules (`tests/rule_mix.py`: every rule type over the shared symbols and series, varied
windows, thresholds and options) and times the real CLI in a fresh process, as a desk would
run it: `rules validate FILE`, then `check` twice on a fresh copy of the database with
ROTATION_RULES=FILE: the first check primes every rule (a new rules file), the second
evaluates them from their saved state with no new bar (every later check that day), and a
third runs after importing one new session (`new bar`: the database is filled with every
file but its last row, the full files are imported before that check, untimed). Seconds
and milliseconds per rule are printed, so linear growth shows as a flat ms/rule column.

Each size also runs the floor (`bench/floor.py`: an independent vectorised pandas evaluation
of the same rules file) in a fresh process, and every step prints its CPU seconds as a ratio
to the floor's, measured in the same run.

Goals (issue 14, on the 2-core machine): validate 10,000 rules in at most 2 s, check them
in at most 30 s, the cost per rule flat from 1,000 to 10,000. Issue 22: the first check
within 3x the floor, a check with no new bar within 0.5x, linear from 1,000 to 50,000; the
`new bar` goal (0.5x) is this bench's: one new bar should cost about what no new bar does.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.rule_mix

from bench.floor import floor_cpu
from storage.db import copy_database
from tests.rule_mix import generate_rules

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SIZES = (1000, 10000, 50000)
MACRO = Path("macro") / "fred_rates_daily.csv"


def cli(db: Path | None, rules: Path | None, *args: str) -> tuple[float, float]:
    """Wall and CPU time of one `rotation-bot` run in a fresh process; output discarded."""
    command = [sys.executable, "-c", "from bot.cli import main; main()"]
    command += ["--db", str(db)] if db is not None else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROTATION_")} | _BYTECODE
    if _BYTECODE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env |= {"ROTATION_RULES": str(rules)} if rules is not None else {}
    started, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    # 1 from check: no rule is current (the shared data ends in 2026-08, STALE today).
    if done.returncode != 0 and not (args[0] == "check" and done.returncode == 1):
        raise SystemExit(f"rotation-bot {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds, _children_cpu() - cpu


def _children_cpu() -> float:
    """CPU seconds used by finished child processes (on a busy machine wall time is noisy)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def fill(db: Path, data: Path) -> None:
    """Every shared price file and the FRED rates, through the import commands."""
    cli(db, None, "prices", "import", str(data / "prices"))
    cli(db, None, "series", "import", str(data / MACRO))


def without_last_bar(data: Path, folder: Path) -> Path:
    """A copy of the price CSVs and the FRED rates without their last row: the session a
    `one new bar` step appends by importing the full files over it."""
    copy = folder / "data-before-last-bar"
    for source in [*sorted((data / "prices").glob("*.csv")), data / MACRO]:
        target = copy / source.relative_to(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
        while len(lines) > 2 and not lines[-1].strip():
            lines.pop()
        target.write_text("".join(lines[:-1]), encoding="utf-8")
    return copy


def measure(count: int, base: Path, folder: Path) -> dict[str, tuple[float, float]]:
    """Validate, first check and second check of `count` generated rules, in seconds."""
    rules = folder / f"rules-{count}.toml"
    rules.write_text(generate_rules(count), encoding="utf-8")
    db = folder / f"check-{count}.db"
    copy_database(base, db)  # consistent even if a WAL file is left
    times = {
        "validate": cli(None, None, "rules", "validate", str(rules)),
        "check": cli(db, rules, "check"),
        "again": cli(db, rules, "check"),
    }
    fill(db, base_data())  # the last row of every file: one new session (not timed)
    times["new bar"] = cli(db, rules, "check")
    return times | {"floor": (0.0, floor_cpu(rules, base_data()))}


def warm_up(base: Path, folder: Path) -> None:
    """Uncounted runs of every timed command on 10 rules: the bytecode is compiled once."""
    rules, db = folder / "warm.toml", folder / "warm.db"
    rules.write_text(generate_rules(10), encoding="utf-8")
    copy_database(base, db)
    cli(None, None, "rules", "validate", str(rules))
    cli(db, rules, "check")


def report(count: int, times: dict[str, tuple[float, float]]) -> str:
    """One line: each step's wall time, ms per rule, CPU time and its ratio to the floor's."""
    floor = times["floor"][1]
    cells = [
        f"{name} {wall:6.2f} s {wall / count * 1000:5.2f} ms/rule"
        f" (cpu {cpu:5.1f} s, {cpu / floor:4.1f}x floor)"
        for name, (wall, cpu) in times.items()
        if name != "floor"
    ]
    return f"{count:>6} rules  floor cpu {floor:5.2f} s  " + "  ".join(cells)


def verdict(times: dict[str, tuple[float, float]]) -> list[str]:
    """The goals met or missed at 10,000 rules: wall seconds, then CPU ratios to the floor."""
    goals = (("validate", 2.0), ("check", 30.0), ("again", 30.0))
    lines = [
        f"  {key}: {times[key][0]:.2f} s, goal {goal:g} s: "
        + ("OK" if times[key][0] <= goal else "MISSED")
        for key, goal in goals
    ]
    floor = times["floor"][1]
    for key, goal in (("check", 3.0), ("again", 0.5), ("new bar", 0.5)):
        ratio = times[key][1] / floor
        verdict = "OK" if ratio <= goal else "MISSED"
        lines.append(f"  {key}: {ratio:.2f}x the floor, goal {goal:g}x: {verdict}")
    return lines


_DATA: list[Path] = []
# As an installed bot starts (like bench/cli_start.py): bytecode compiled once, kept in a
# scratch folder; `--source` leaves the shell's PYTHONDONTWRITEBYTECODE as it is.
_BYTECODE: dict[str, str] = {}


def base_data() -> Path:
    """The data directory this run reads (the floor reads the same CSVs)."""
    return _DATA[0] if _DATA else DEFAULT


def main() -> int:
    args = sys.argv[1:]
    data = DEFAULT
    if "--data" in args:
        at = args.index("--data")
        data = Path(args[at + 1])
        del args[at : at + 2]
    source = "--source" in args
    args = [arg for arg in args if arg != "--source"]
    sizes = [int(arg) for arg in args] or list(SIZES)
    _DATA.append(data)
    if not (data / "prices").is_dir():
        print(f"no shared data at {data}; see its README", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        if not source:
            _BYTECODE["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        print("bytecode compiled " + ("at every start" if source else "once, as installed"))
        base = Path(tmp) / "base.db"
        fill(base, without_last_bar(data, Path(tmp)))
        warm_up(base, Path(tmp))
        results = {}
        for count in sizes:
            results[count] = measure(count, base, Path(tmp))
            print(report(count, results[count]), flush=True)
    if 10_000 in results:
        print("\n".join(["goals at 10,000 rules:", *verdict(results[10_000])]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
