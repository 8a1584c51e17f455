"""Time rendering each alert chart kind from the shared real prices (target: <= 250 ms each).

Usage: python bench/charts.py [PRICES_DIR] [--repeat N]   (default: ../shared/data/prices, 5)

Prints matplotlib's one-off import cost, then per chart kind the first (cold) render and the
median and worst of N warm renders, with the PNG size.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

from signals.models import ChartSpec, MarketData

DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "prices"
TARGET_MS = 250.0
SPECS = {
    "relative (IWC vs OEF YTD)": ChartSpec(
        "relative", ("IWC", "OEF"), date(2026, 1, 2), date(2026, 7, 31)
    ),
    "new_high (^RUT, 1 year)": ChartSpec(
        "new_high",
        ("^RUT",),
        date(2025, 8, 1),
        date(2026, 8, 21),
        date(2024, 11, 25),
        2442.74,
        basis="close",
    ),
    "extreme (IWM / SPY, 18 months)": ChartSpec(
        "extreme", ("IWM / SPY",), date(2025, 1, 2), date(2026, 7, 31), date(2025, 4, 8), 0.346
    ),
    "level (^TNX, 2 years)": ChartSpec(
        "level", ("^TNX",), date(2024, 8, 1), date(2026, 7, 31), None, 4.5, basis="close"
    ),
}


def load_market(directory: Path) -> MarketData:
    """Price frames for the benchmark's symbols, in the columns the charts read."""
    names = {"Adj Close": "adj_close", "Close": "close", "High": "high"}
    prices = {}
    for symbol in ("IWC", "OEF", "^RUT", "IWM", "SPY", "^TNX"):
        raw = pd.read_csv(directory / f"{symbol}.csv", index_col="Date", parse_dates=True)
        prices[symbol] = raw.rename(columns=names)
    return MarketData(prices=prices)


def time_ms(action) -> tuple[float, bytes]:
    """Milliseconds one call took, and what it returned."""
    started = time.perf_counter()
    result = action()
    return (time.perf_counter() - started) * 1000, result


def main() -> int:
    """Run the benchmark; exit 1 if a chart's median misses the target."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 5
    directory = Path(args[0]) if args and not args[0].isdigit() else DEFAULT_DIR
    market = load_market(directory)
    import_ms, _ = time_ms(lambda: __import__("matplotlib.backends.backend_agg"))
    from bot.delivery.charts import render_chart

    print(f"import matplotlib (Agg): {import_ms:.0f} ms, once per process, at the first chart")
    print(f"{'chart':34} {'cold':>8} {'median':>8} {'worst':>8} {'png':>8}")
    missed = False
    for name, spec in SPECS.items():

        def render(spec: ChartSpec = spec, name: str = name) -> bytes:
            return render_chart(spec, market, title=name)

        cold, png = time_ms(render)
        warm = [time_ms(render)[0] for _ in range(repeat)]
        median = statistics.median(warm)
        missed |= median > TARGET_MS
        print(f"{name:34} {cold:7.0f}ms {median:7.0f}ms {max(warm):7.0f}ms {len(png) // 1024:6d}KB")
    print(f"target: median <= {TARGET_MS:.0f} ms per chart -> {'MISSED' if missed else 'met'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
