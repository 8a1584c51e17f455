"""The corpus live: bad data arriving session by session, checked every evening.

Usage: python bench/bad_data_live.py [DATA_DIR] [SESSIONS]   (default: ../shared/data, 8)

For each variant of `tests/bot/corpus_kit.VARIANTS` damaging the quiet day (and not refused),
the cache starts with the clean files up to the session before it; then, one session at a
time, the files up to that session are imported (as a daily download would) and `check`
runs. The announced events are compared with the same flow on the clean files: false alerts
and missed events per variant, the live counterpart of bench/bad_data_corpus.py. Statuses
are judged with only the data of that evening, so a level that lasts is seen as it lasts.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.bot.corpus_kit

from tests.bot.corpus_kit import DAY, EXTRA_RULES, VARIANTS, Variant, clean_copy
from tests.bot.test_corruption_corpus import import_copy, run

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def sessions_from(root: Path, first: str, count: int) -> list[str]:
    """`count` dates of ^RUT's file from `first` on (the sessions to replay)."""
    with (root / "prices" / "^RUT.csv").open(newline="") as handle:
        days = [row[0] for row in list(csv.reader(handle))[1:] if row and row[0] >= first]
    return days[:count]


def cut_copy(source: Path, target: Path, last: str) -> Path:
    """Every file of `source` with only the rows dated up to `last`."""
    shutil.rmtree(target, ignore_errors=True)
    for path in [*source.glob("prices/*.csv"), *source.glob("macro/*.csv")]:
        out = target / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        kept = [rows[0], *[row for row in rows[1:] if row and row[0] <= last]]
        with out.open("w", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerows(kept)
    return target


def live_events(files: Path, work: Path, days: list[str], before: str) -> set[tuple[str, ...]]:
    """Events announced by `check` after each session's import of `files`."""
    db_path = work / "live.db"
    db_path.unlink(missing_ok=True)
    shutil.copy(files / "corpus-rules.toml", work / "corpus-rules.toml")
    assert import_copy(cut_copy(files, work / "cut", before), db_path).exit_code == 0
    # Primes every rule. Exit 1 is "no rule current": the data ends years before today's
    # clock, so every rule is STALE (docs/exit-codes.md); anything else is a failure.
    assert run(db_path, "check", "--json").exit_code in (0, 1)
    found = set()
    for day in days:
        result = import_copy(cut_copy(files, work / "cut", day), db_path)
        if result.exit_code != 0:
            return {("refused", day, "")}
        checked = run(db_path, "check", "--json")
        for event in json.loads(checked.stdout)["new_events"]:
            found.add((event["rule_id"], event["kind"], event["date"]))
    return found


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        root = clean_copy(data, Path(folder) / "clean")
        (root / "corpus-rules.toml").write_text(EXTRA_RULES)
        days = sessions_from(root, DAY, count)
        every = sessions_from(root, "0", 10**6)
        before = every[every.index(DAY) - 1]
        work = Path(folder) / "work"
        work.mkdir()
        clean = live_events(root, work, days, before)
        print(f"clean: {len(clean)} events announced live from {days[0]} to {days[-1]}")
        for variant in VARIANTS:
            line = run_variant(root, variant, Path(folder), days, before, clean)
            if line:
                print(line, flush=True)
    print(f"done in {time.perf_counter() - started:.0f}s")


def run_variant(
    root: Path, variant: Variant, folder: Path, days: list[str], before: str, clean: set
) -> str | None:
    """One line for a variant that damages the replayed sessions (None for the others)."""
    copy = folder / "variant"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*.db*"))
    variant.corrupt(copy)
    if variant.refused or variant.fresh:
        return None
    work = folder / "vwork"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    events = live_events(copy, work, days, before)
    if events == clean and _untouched(root, copy, days):
        return None
    false, missed = events - clean, clean - events
    return f"{variant.name:<50} false {len(false):>2}  missed {len(missed):>2}  {sorted(false)[:2]}"


def _untouched(root: Path, copy: Path, days: list[str]) -> bool:
    """True when the variant changed no row of the replayed sessions (not this bench's case)."""
    for path in [*copy.glob("prices/*.csv"), *copy.glob("macro/*.csv")]:
        mine = [r for r in path.read_text().splitlines() if r[:10] in days]
        theirs = [
            r for r in (root / path.relative_to(copy)).read_text().splitlines() if r[:10] in days
        ]
        if mine != theirs:
            return False
    return True


if __name__ == "__main__":
    main()
