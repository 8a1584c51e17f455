"""Draw the alert chart shown on the front page with the project's own chart code.

Usage: python docs_hooks/alert_picture.py [PRICES_DIR]   (default: ../shared/data/prices)

Writes docs/img/alert-chart.png: the chart of the default rule `iwc-overtakes-oef-ytd` as it
fired on 2025-09-23 (see `rotation-bot backtest --from 2024-01-01`). Run it again after a
change to the chart code and commit the picture.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pandas as pd

from bot.delivery.charts import render_chart
from signals.models import ChartSpec, MarketData

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT.parent / "shared" / "data" / "prices"
OUTPUT = ROOT / "docs" / "img" / "alert-chart.png"
SPEC = ChartSpec("relative", ("IWC", "OEF"), date(2024, 12, 31), date(2025, 9, 23))
TITLE = "IWC overtakes OEF YTD: +16.6% vs +15.6%"


def load_market(directory: Path) -> MarketData:
    """The two legs' prices, in the columns the charts read."""
    names = {"Adj Close": "adj_close", "Close": "close", "High": "high"}
    prices = {}
    for symbol in SPEC.legs:
        raw = pd.read_csv(directory / f"{symbol}.csv", index_col="Date", parse_dates=True)
        prices[symbol] = raw.rename(columns=names)
    return MarketData(prices=prices)


def main() -> int:
    """Render the picture; exit 1 with a line when the price files are missing."""
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    if not (directory / "IWC.csv").is_file():
        print(f"error: no IWC.csv in {directory} (give the prices directory)", file=sys.stderr)
        return 1
    OUTPUT.write_bytes(render_chart(SPEC, load_market(directory), title=TITLE))
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
