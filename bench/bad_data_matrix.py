"""The corruption corpus as a matrix: every variant x path (file / stand-in) x mode.

Usage: python bench/bad_data_matrix.py [DATA_DIR] [--only TEXT] [--path file|stand-in]
       [--mode hindsight|live] [--details] [--start N]   (default data: ../shared/data)

Every variant of `tests/bot/corpus_kit.ALL_VARIANTS` (issue 19's table, its three holes and
the single bad values before it) runs through the CSV files (`prices import`, `series
import`) and through the Yahoo and FRED stand-ins (`prices update`, `series update`, the real
yfinance), in hindsight (`backtest`) and live (the evenings around the damage, `check` after
each). Each line counts, against the clean files on the same path and mode: false alerts,
real events missed, real events moved (alerted later; `+n` sessions each, one session late
counts) and tracebacks. Goal: 0 false and 0 missed. See tests/bot/corpus_matrix.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.bot.corpus_kit

from tests.bot.corpus_kit import ALL_VARIANTS
from tests.bot.corpus_matrix import MODES, PATHS, Corpus, stand_ins

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--only", default="", help="variants whose name contains this")
    parser.add_argument("--path", choices=PATHS, action="append")
    parser.add_argument("--mode", choices=MODES, action="append")
    parser.add_argument("--details", action="store_true", help="list the events counted")
    parser.add_argument("--start", type=int, default=0, help="skip the first N variants")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    started = time.perf_counter()
    # Issue 19's rows first (bad data that lasts, shapes, holes), then the single bad values.
    first = next(i for i, v in enumerate(ALL_VARIANTS) if v.name.startswith("discarded IWM"))
    ordered = [*ALL_VARIANTS[first:], *ALL_VARIANTS[:first]]
    variants = [v for v in ordered[args.start :] if args.only.lower() in v.name.lower()]
    totals = {"false": 0, "missed": 0, "moved": 0, "tracebacks": 0}
    with tempfile.TemporaryDirectory() as folder, stand_ins() as (yahoo, fred):
        corpus = Corpus(args.data, Path(folder), (yahoo, fred))
        print(f"{'variant':<48} {'path':<9} {'mode':<10} result")
        for index, variant in enumerate(variants):
            for path in args.path or PATHS:
                for mode in args.mode or MODES:
                    work = Path(folder) / f"v{index}-{path}-{mode}"
                    work.mkdir()
                    tally = corpus.run(variant, path, mode, work)
                    print(
                        f"{variant.name[:48]:<48} {path:<9} {mode:<10} {tally.line()}", flush=True
                    )
                    if args.details and (tally.false or tally.missed or tally.moved):
                        print(f"    false {tally.false}\n    missed {tally.missed}")
                        print(f"    moved {tally.moved}")
                    totals["false"] += len(tally.false)
                    totals["missed"] += len(tally.missed)
                    totals["moved"] += len(tally.moved)
                    totals["tracebacks"] += tally.tracebacks
    print(f"{len(variants)} variants in {time.perf_counter() - started:.0f}s; totals {totals}")


if __name__ == "__main__":
    main()
