"""False alerts and missed events per corruption of the real data (issue 19's table).

Usage: python bench/bad_data_corpus.py [DATA_DIR]   (default: ../shared/data)

Every variant of `tests/bot/corpus_kit.VARIANTS` is imported through the real CLI over a copy
of the clean cache (or into an empty one), then backtested (in hindsight). Each line compares
with the clean data's events: false alerts (events the clean data does not have, even a
session apart), missed ones, and moved ones (later, even by one session: a bar confirmed by
the next session). Goal: 0 false and 0 missed, or a reason. bench/bad_data_matrix.py runs the
same variants through the stand-ins too, and live.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.bot.corpus_kit

from tests.bot.corpus_kit import EXTRA_RULES, VARIANTS, Variant, clean_copy
from tests.bot.corpus_matrix import compare
from tests.bot.test_corruption_corpus import Event, backtest, corrupted_files, import_copy

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def counts(events: set[Event], clean: set[Event]) -> tuple[int, int, int]:
    """(false alerts, missed, moved) of `events` against the clean ones; a real event one
    session late is moved, never on time (`tests/bot/corpus_matrix.compare`)."""
    tally = compare({e: e[2] for e in events}, {e: e[2] for e in clean})
    return len(tally.false), len(tally.missed), len(tally.moved)


def run_variant(root: Path, variant: Variant, work: Path, clean: set[Event]) -> str:
    """One line: the variant, refused or its counts."""
    copy = corrupted_files(root, variant, work / "copy")
    db_path = work / "variant.db"
    if not variant.fresh:
        shutil.copy(root / "clean.db", db_path)
    shutil.copy(root / "corpus-rules.toml", work / "corpus-rules.toml")
    result = import_copy(copy, db_path)
    if result.exit_code != 0:
        first = (result.stderr or result.output).strip().splitlines()[-1][:90]
        return f"{variant.name:<50} refused: {first}"
    false, missed, moved = counts(backtest(db_path), clean)
    return f"{variant.name:<50} false {false:>3}  missed {missed:>3}  moved {moved:>3}"


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        root = clean_copy(data, Path(folder) / "clean")
        (root / "corpus-rules.toml").write_text(EXTRA_RULES)
        assert import_copy(root, root / "clean.db").exit_code == 0
        clean = backtest(root / "clean.db")
        print(f"clean: {len(clean)} events since {min(e[2] for e in clean)} ({date.today()})")
        for index, variant in enumerate(VARIANTS):
            work = Path(folder) / f"v{index}"
            work.mkdir()
            print(run_variant(root, variant, work, clean), flush=True)
            shutil.rmtree(work)
    print(f"{len(VARIANTS)} variants in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
