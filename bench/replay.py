"""A quarter's replay with and without digests (goal: with digests at most 1.5x without).

Usage: python bench/replay.py [DATA_DIR]   (default: ../shared/data)

Imports the shared prices and FRED rates into a temporary database once, then replays
2025-01-02..2025-03-31 through the real scheduler and jobs (`ServiceJobs`, `Service`, a
simulated clock at full speed) to the console, whose output is discarded, best of two runs
each. Uses only APIs that predate the digest switch, so the same script run on an older
checkout (PYTHONPATH) gives the "before" numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bot.config import load_settings
from bot.service.clock import SimulatedClock
from bot.service.jobs import ServiceJobs, replay_copy
from bot.service.runner import Service
from bot.service.schedule import replay_window

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SPAN = (date(2025, 1, 2), date(2025, 3, 31))
REPEATS = 2
MACRO = Path("macro") / "fred_rates_daily.csv"


def fill(db_file: Path, data: Path) -> None:
    """Every shared price file and the FRED rates, through `prices import` and `series import`."""
    cli = [sys.executable, "-c", "from bot.cli import main; main()", "--db", str(db_file)]
    for args in (["prices", "import", data / "prices"], ["series", "import", data / MACRO]):
        subprocess.run([*cli, *map(str, args)], check=True, capture_output=True)


def replay_seconds(live: Path, scratch: Path, *, digests: bool) -> float:
    """Wall time of one replay of SPAN on a fresh copy of `live`."""
    started = time.perf_counter()
    copy = replay_copy(live, scratch / f"replay-{digests}-{time.monotonic_ns()}.db")
    settings = load_settings(None, db_path=copy)
    jobs = ServiceJobs(settings, copy, network=False, digests=digests)
    clock = SimulatedClock(replay_window(*SPAN)[0], speed=0)
    service = Service(settings, jobs, db_path=copy, clock=clock, replay=SPAN)
    with contextlib.redirect_stdout(io.StringIO()):
        asyncio.run(service.run())
    jobs.close()
    return time.perf_counter() - started


def main() -> int:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not (data / "prices").is_dir():
        print(f"no shared data at {data}; see its README", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        live = Path(tmp) / "live.db"
        fill(live, data)
        best = {
            digests: min(replay_seconds(live, Path(tmp), digests=digests) for _ in range(REPEATS))
            for digests in (False, True)
        }
    ratio = best[True] / best[False]
    print(
        f"replay {SPAN[0]}..{SPAN[1]}: without digests {best[False]:.1f} s, "
        f"with digests {best[True]:.1f} s, ratio {ratio:.2f} (goal <= 1.5)"
    )
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
