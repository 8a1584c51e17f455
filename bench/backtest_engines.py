"""The full backtest on PostgreSQL versus SQLite: same events, and the time ratio.

Run from the project root: `python bench/backtest_engines.py [DATA_DIR] [POSTGRES_URL]`
(default ../shared/data; without a URL a throwaway local cluster is started the way the tests
start theirs, which needs the PostgreSQL server binaries). Both databases get the same import
of the shared prices and rates through the CLI, then `rotation-bot backtest --json` runs
REPEATS times on each, in process. Goal: identical output; the ratio is reported, not
enforced (PostgreSQL pays a socket round trip per query that SQLite does not).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.pg_cluster

from bot.cli import _register_commands, app
from tests.pg_cluster import Cluster

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
REPEATS = 5


def cli(db: str, *args: str) -> str:
    """Run one command in process; return its standard output (fail loudly on an error)."""
    result = CliRunner().invoke(app, ["--db", db, *args])
    # 1 from backtest: a rule had no data (the shared data has no P/E history); still a result.
    if result.exit_code != 0 and not (args[0] == "backtest" and result.exit_code == 1):
        raise SystemExit(f"{' '.join(args)} failed on {db.split('@')[-1]}: {result.output}")
    return result.stdout


def timed(action: Callable[[], str]) -> tuple[float, str]:
    started = time.perf_counter()
    output = action()
    return time.perf_counter() - started, output


def measure(db: str, data: Path) -> tuple[float, list[float], str]:
    """Import seconds, backtest seconds per run, and the backtest's JSON."""
    imported, _ = timed(lambda: cli(db, "prices", "import", str(data / "prices")))
    series, _ = timed(
        lambda: cli(db, "series", "import", str(data / "macro" / "fred_rates_daily.csv"))
    )
    runs = [timed(lambda: cli(db, "backtest", "--json")) for _ in range(REPEATS)]
    return imported + series, [seconds for seconds, _ in runs], runs[-1][1]


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    _register_commands()
    cluster = None
    url = sys.argv[2] if len(sys.argv) > 2 else None
    if url is None:
        cluster = Cluster()
        cluster.start()
        url = cluster.new_database()
    try:
        with tempfile.TemporaryDirectory() as scratch:
            sqlite = measure(str(Path(scratch) / "rotation.db"), data)
            postgres = measure(url, data)
    finally:
        if cluster is not None:
            cluster.stop()
    for name, (imported, runs, _) in (("SQLite", sqlite), ("PostgreSQL", postgres)):
        median = statistics.median(runs)
        print(f"{name:<11} import {imported:6.2f} s   backtest median {median:6.2f} s")
    same = sqlite[2] == postgres[2]
    print(f"same events: {'yes' if same else 'NO'}")
    ratio = statistics.median(postgres[1]) / statistics.median(sqlite[1])
    print(f"backtest ratio PostgreSQL / SQLite: {ratio:.2f}x")
    print(f"import ratio PostgreSQL / SQLite: {postgres[0] / sqlite[0]:.2f}x")


if __name__ == "__main__":
    main()
