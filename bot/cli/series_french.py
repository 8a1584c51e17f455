"""The French library's 5x5 file in `series import` (a zip or its CSV) and `series update`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.table import Table

from bot.cli.common import console, err_console, fail, print_error
from bot.cli.prices_data import print_quality_changes

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.sources.french_csv import FrenchFile
    from bot.sources.valuation import ValuationImport
    from storage.db import Store


def is_french_file(path: Path) -> bool:
    """Whether `path` is a library zip, or a CSV that opens with the library's vintage line."""
    from bot.sources.french_csv import looks_like_french

    if path.suffix.lower() == ".zip":
        return True
    try:
        with path.open("rb") as handle:
            return looks_like_french(handle.read(300))
    except OSError:
        return False  # the CSV reader names the problem


def import_french(db: Store, path: Path, settings: Settings) -> None:
    """Store the valuation series of a library file from disk; fail with one line if refused."""
    from bot.sources.base import SourceError
    from bot.sources.french_csv import read_french_file

    try:
        file = read_french_file(path)
        result = _store(db, file, settings)
    except SourceError as error:
        fail(f"{error} (nothing imported)")
    print_valuation_summary("series import (French library)", result)


def update_french(db: Store, settings: Settings) -> str | None:
    """Download and store the current library file; the reason when it failed (else None)."""
    from bot.sources.base import SourceError
    from bot.sources.french import FrenchSource

    source = FrenchSource.from_settings(settings)
    try:
        with err_console.status("downloading the French library's 5x5 file"):
            file = source.fetch()
        result = _store(db, file, settings)
    except SourceError as error:
        return f"{error} (nothing stored)"
    print_valuation_summary("series update (French library)", result)
    return None


def _store(db: Store, file: FrenchFile, settings: Settings) -> ValuationImport:
    from bot.sources.quality import quality_config, review_series
    from bot.sources.valuation import store_valuation

    result = store_valuation(db, file)
    ids = [sid for sid, count in result.changed.items() if count]
    print_quality_changes(review_series(db, ids, quality_config(settings)))
    return result


def print_valuation_summary(title: str, result: ValuationImport) -> None:
    """A table per series, the vintage, and what it revised."""
    from bot.sources.valuation import describe_revisions

    table = Table("series", "points", "first", "last", "last value", "changed", title=title)
    for sid, values in result.points.items():
        first, last = values[0], values[-1]
        changed = f"{result.changed.get(sid, 0):,}"
        table.add_row(sid, f"{len(values):,}", str(first.date), str(last.date),
                      f"{last.value:.4f}", changed)  # fmt: skip
    console.print(table)
    console.print(f"CRSP vintage {result.vintage}; {len(result.new_months)} new month(s)")
    by_series: dict[str, list] = {}
    for revision in result.revisions:
        by_series.setdefault(revision.series_id, []).append(revision)
    for sid, revised in by_series.items():
        console.print(f"revised: {describe_revisions(sid, revised)}", markup=False)


def report_failure(reason: str) -> None:
    """One line for a French library update that stored nothing."""
    print_error(f"French library: {reason}")
