"""Reading data against pandas: CSV import and a whole-process backtest, with their floors.

Usage: python bench/read_data.py [--data DIR] [--runs N] [--source]   (default: shared data, 3)

Each number is the median CPU seconds of N fresh processes, floor and product in the same run:

- import: `rotation-bot prices import DIR` into a new database, against the floor of
  `pd.read_csv` of the same files plus writing the same rows (one executemany into a table of
  the same columns). Goal (issue 22): at most 2x. A new database builds the NYSE calendar during
  that import; `+calendar` is the same import with the calendar already cached beside it.
- backtest: `rotation-bot backtest --from 2000-01-01` of the default rules on the imported
  database (prices and FRED rates), against `pd.read_csv` of the CSVs it reads. Goal: 1.5x.

Processes run as an installed bot starts, as in `bench/cli_start.py`: with bytecode compiled
once (kept in a scratch PYTHONPYCACHEPREFIX by an uncounted first run of every command).
`--source` measures an editable install under PYTHONDONTWRITEBYTECODE instead, which compiles
every project module at every start (about 0.05 s more of a backtest).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
CLI = [sys.executable, "-c", "from bot.cli import main; main()"]
ENV = dict(os.environ)  # as_installed() moves the bytecode to a scratch folder

READ = """
import sys
from pathlib import Path
import pandas as pd
data = Path(sys.argv[1])
frames = [pd.read_csv(p) for p in sorted((data / "prices").glob("*.csv"))]
if sys.argv[2] == "macro":
    frames.append(pd.read_csv(data / "macro" / "fred_rates_daily.csv"))
"""

READ_AND_WRITE = """
import sqlite3, sys
from pathlib import Path
import pandas as pd
data, target = Path(sys.argv[1]), sys.argv[2]
db = sqlite3.connect(target)
db.execute(
    "CREATE TABLE prices (symbol TEXT, date TEXT, open REAL, high REAL, low REAL, close REAL,"
    " adj_close REAL, volume REAL, final INTEGER, source TEXT, fetched_at TEXT,"
    " PRIMARY KEY (symbol, date))"
)
for path in sorted((data / "prices").glob("*.csv")):
    frame = pd.read_csv(path)
    frame.insert(0, "symbol", path.stem)
    frame["final"], frame["source"], frame["fetched_at"] = 1, "csv", "2026-01-01T00:00:00Z"
    rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
    with db:
        db.executemany("INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
"""


def cpu(command: list[str]) -> float:
    """CPU seconds of one fresh process (fails loudly if it fails)."""
    before = _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=ENV)
    if done.returncode != 0 and not _only_no_data(done.stderr):
        raise SystemExit(f"{' '.join(command[:4])} failed:\n{done.stderr[-2000:]}")
    return _children_cpu() - before


def _only_no_data(stderr: str) -> bool:
    """The backtest exits 1 when a default rule has no data (the valuation rule reads Fama-French
    series this bench does not import); every other rule was backtested, so the run counts."""
    lines = stderr.strip().splitlines()
    last = lines[-1] if lines else ""
    return last.startswith("error: ") and "NO DATA, not backtested" in last


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def median_cpu(runs: int, make: Callable[[int], list[str]]) -> float:
    cpu(make(runs))  # uncounted: compiles the bytecode and warms the page cache
    return statistics.median(cpu(make(run)) for run in range(runs))


def as_installed(folder: Path) -> None:
    """Keep compiled bytecode between runs, as an installed bot has it."""
    ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    ENV["PYTHONPYCACHEPREFIX"] = str(folder / "pycache")


def line(label: str, product: float, floor: float, goal: float) -> str:
    ratio = product / floor
    verdict = "OK" if ratio <= goal else "MISSED"
    return (
        f"{label:<9} product {product:6.2f} s  floor {floor:6.2f} s  "
        f"ratio {ratio:5.2f}x (goal {goal:g}x): {verdict}"
    )


def main() -> int:
    args = sys.argv[1:]
    data = Path(args[args.index("--data") + 1]) if "--data" in args else DEFAULT
    runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 3
    if not (data / "prices").is_dir():
        print(f"no shared data at {data}; see its README", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "--source" not in args:
            as_installed(folder)
        print("bytecode compiled " + ("at every start" if "--source" in args else "once"))
        prices = str(data / "prices")

        def imported(run: int) -> list[str]:
            return [*CLI, "--db", str(folder / f"import-{run}.db"), "prices", "import", prices]

        def written(run: int) -> list[str]:
            target = str(folder / f"floor-{run}.db")
            return [sys.executable, "-c", READ_AND_WRITE, str(data), target]

        product, floor = median_cpu(runs, imported), median_cpu(runs, written)
        print(line("import", product, floor, 2.0))
        base = str(folder / "import-0.db")
        # A new database builds the NYSE calendar (about 0.3 s) during its first import; the
        # same import with the calendar already cached beside it shows what the reading costs.
        calendar = Path(f"{base}.nyse-sessions.json").read_bytes()

        def cached(run: int) -> list[str]:
            target = folder / f"cached-{run}.db"
            Path(f"{target}.nyse-sessions.json").write_bytes(calendar)
            return [*CLI, "--db", str(target), "prices", "import", prices]

        print(line("+calendar", median_cpu(runs, cached), floor, 2.0))
        cpu([*CLI, "--db", base, "series", "import", str(data / "macro" / "fred_rates_daily.csv")])
        # The NYSE calendar is cached beside the database after any start (status exits 1 here:
        # no service is running).
        subprocess.run([*CLI, "--db", base, "status"], capture_output=True, check=False, env=ENV)
        backtest = [*CLI, "--db", base, "backtest", "--from", "2000-01-01"]
        read = [sys.executable, "-c", READ, str(data), "macro"]
        print(
            line(
                "backtest",
                median_cpu(runs, lambda _: backtest),
                median_cpu(runs, lambda _: read),
                1.5,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
