"""`rotation-bot prices import DIR` and `prices show SYMBOL`: the CSV side of the price cache.

`import` reads every file first and writes only when all of them are well formed, in one
transaction: a malformed file is reported (file and line) and nothing at all is written, so
fixing the file and running the same command again is always safe.
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.control import strip_control_codes
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bot.cli.common import (
    AppContext,
    app_context,
    console,
    describe_unknown,
    err_console,
    fail,
    format_number,
    print_error,
    print_json,
    print_table,
)
from bot.cli.groups import prices_app

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    import pandas as pd

    from bot.sources.csv_columns import PriceColumns
    from bot.sources.csv_dir import RowCheck
    from bot.sources.quality import StatusChange
    from signals.quality import QualityConfig
    from storage.db import Store

_NUMBERS = ("open", "high", "low", "close", "adj_close", "volume")


@dataclass
class FileImport:
    """One file's bars (column-wise) and, once written, how many rows changed."""

    path: Path
    symbol: str
    bars: PriceColumns
    changed: int = 0


@prices_app.command("import")
def import_prices(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Argument(help="Directory of Yahoo-format <SYMBOL>.csv files.")
    ],
) -> None:
    """Import every *.csv in DIR into the price cache (symbol = file name, upper-cased)."""
    # pydantic would cost a tenth of the import: its settings are read as plain values.
    context = app_context(ctx, quick_settings=True)
    with _collector_paused():
        _import_directory(context, directory)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off, then back as it was. An import makes about a
    million objects that live to its end (pandas' modules, bars, rows to write); the
    collector's passes over them free nothing and cost a tenth of the import."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _import_directory(context: AppContext, directory: Path) -> None:
    from bot.sources.base import SourceError
    from bot.sources.csv_dir import RowCheck, price_files
    from bot.sources.quality import quality_config
    from storage.prices import count_rows

    started = time.perf_counter()
    try:
        files = price_files(directory)
    except SourceError as error:
        fail(str(error))
    if not files:
        fail(f"no .csv files in {directory}")
    _check_symbols(files)
    check = RowCheck.now(context.settings.weekday_symbols)
    with _progress() as progress:
        imports = _read_files(files, progress, check)
        cached = {item.symbol: count_rows(context.db, item.symbol) for item in imports}
        _check_identities(context.db, [item for item in imports if cached[item.symbol]])
        config = quality_config(context.settings)
        _check_strangers(context.db, imports, cached, config.links)
        _store_files(context.db, imports, progress)
    changes = _review(context.db, imports, cached, config)
    _print_import_summary(imports, time.perf_counter() - started)
    print_quality_changes(changes)


def _review(
    db: Store, imports: list[FileImport], cached: dict[str, int], config: QualityConfig
) -> list[StatusChange]:
    """Judge the symbols whose rows changed; a first import is judged from memory."""
    from bot.sources.quality import frame_of_columns, review_prices

    changed = [item for item in imports if item.changed]
    fresh = {
        item.symbol: frame_of_columns(item.bars.series("close"), item.bars.series("adj_close"))
        for item in changed
        if not cached[item.symbol]
    }
    return review_prices(db, [item.symbol for item in changed], config, known=fresh)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _check_symbols(files: list[Path]) -> None:
    """Two files naming the same symbol (`iwm.csv`, `IWM.csv`) would overwrite each other."""
    from bot.sources.csv_dir import symbol_for

    owners: dict[str, Path] = {}
    for path in files:
        other = owners.setdefault(symbol_for(path), path)
        if other is not path:
            fail(f"{other.name} and {path.name} both hold {symbol_for(path)}; keep one")


def _read_files(files: list[Path], progress: Progress, check: RowCheck) -> list[FileImport]:
    """Parse every file; on any malformed file print one line per bad file and exit 1."""
    from bot.sources.base import SourceError
    from bot.sources.csv_columns import read_price_columns
    from bot.sources.csv_dir import checked_symbol

    task = progress.add_task("reading", total=len(files))
    imports: list[FileImport] = []
    errors: list[str] = []
    for path in files:
        progress.update(task, description=f"reading {path.name}")
        try:
            bars = read_price_columns(path, check)
            imports.append(FileImport(path, checked_symbol(path), bars))
        except SourceError as error:
            errors.append(str(error))
        progress.advance(task)
    if errors:
        progress.stop()
        for line in errors[:-1]:
            print_error(line)
        fail(f"{errors[-1]} (nothing imported: fix the file and run the import again)")
    return imports


def _check_identities(db: Store, imports: list[FileImport]) -> None:
    """Refuse every file whose closes are not the stored symbol's (another symbol's file)."""
    from signals.shapes import identity_problem
    from storage.prices import load_prices

    stored = load_prices(db, [item.symbol for item in imports], usable_only=False)
    errors = []
    for item in imports:
        problem = identity_problem(_closes(item.bars), stored[item.symbol]["close"])
        if problem is not None:
            errors.append(f"{item.path.name}, line {_line_of(item.path, problem)}: {problem}")
    _refuse_files(errors)


def _check_strangers(
    db: Store,
    imports: list[FileImport],
    cached: dict[str, int],
    links: Mapping[str, tuple[str, ...]],
) -> None:
    """Refuse a file for an empty cache whose moves follow another group's symbol, not its own
    linked instruments' (nothing stored for it to compare levels with)."""
    from signals.shapes import stranger_problem
    from storage.prices import load_prices

    fresh = [item for item in imports if not cached[item.symbol] and item.symbol in links]
    if not fresh:
        return
    closes = {item.symbol: _closes(item.bars) for item in imports}
    grouped = set(links).union(*links.values()) - set(closes)
    for symbol, frame in load_prices(db, sorted(grouped)).items():
        closes[symbol] = frame["close"]
    errors = []
    for item in fresh:
        own = set(links[item.symbol])
        mine = {s: c for s, c in closes.items() if s in own}
        others = {s: c for s, c in closes.items() if s not in own and s != item.symbol}
        problem = stranger_problem(closes[item.symbol], mine, others)
        if problem is not None:
            errors.append(f"{item.path.name}, line {_line_of(item.path, problem)}: {problem}")
    _refuse_files(errors)


def _closes(bars: PriceColumns) -> pd.Series:
    return bars.series("close").rename_axis(None)


def _refuse_files(errors: list[str]) -> None:
    if errors:
        for line in errors[:-1]:
            print_error(line)
        fail(f"{errors[-1]} (nothing imported: check which symbol the file holds)")


def _line_of(path: Path, problem: str) -> int:
    """The file's line holding the first date a problem names (`first YYYY-MM-DD`)."""
    day = problem.split("first ", 1)[1][:10]
    with path.open(encoding="utf-8", errors="replace") as handle:
        return next((n for n, line in enumerate(handle, 1) if line.startswith(day)), 1)


def _store_files(db: Store, imports: list[FileImport], progress: Progress) -> None:
    """Write every file's bars in one transaction with one fetched_at stamp."""
    from bot.sources.csv_columns import FIELDS
    from storage.prices import upsert_columns
    from storage.stamps import utc_now_iso

    task = progress.add_task("writing", total=len(imports))
    stamp = utc_now_iso()
    with db.atomic():
        for item in imports:
            progress.update(task, description=f"writing {item.symbol}")
            values = [item.bars.cells(field) for field in FIELDS]
            days = item.bars.iso_days()
            item.changed = upsert_columns(
                db, item.bars.symbol, days, values, source="csv", fetched_at=stamp
            )
            progress.advance(task)


def _print_import_summary(imports: list[FileImport], seconds: float) -> None:
    table = Table("file", "symbol", "rows", "first", "last", "changed", title="prices import")
    for item in imports:
        first = str(item.bars.day(0)) if len(item.bars) else "-"
        last = str(item.bars.day(-1)) if len(item.bars) else "-"
        rows = f"{len(item.bars):,}" if item.bars else "[yellow]0 (no values)[/]"
        table.add_row(item.path.name, item.symbol, rows, first, last, f"{item.changed:,}")
    print_table(table)
    total = sum(len(item.bars) for item in imports)
    changed = sum(item.changed for item in imports)
    console.print(
        f"{len(imports)} files, {total:,} rows with a value, {changed:,} rows changed "
        f"in {seconds:.2f}s"
    )


def print_quality_changes(changes: list[StatusChange]) -> None:
    """One stderr line per bar now held back (suspect or discarded) by the quality checks."""
    from bot.sources.quality import HELD_BACK, describe

    lines = [f"warning: {describe(change)}" for change in changes if change.new in HELD_BACK]
    if err_console.is_terminal:
        for line in lines:
            err_console.print(line, markup=False, highlight=False, soft_wrap=True)
    else:
        # Piped, rich would print the same text; a first import holds back thousands of bars
        # and laying each line out costs more than the review that found them.
        err_console.file.write("".join(f"{strip_control_codes(line)}\n" for line in lines))


@prices_app.command("show")
def show_prices(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="Symbol as cached, e.g. IWM or ^RUT.")],
    tail: Annotated[int, typer.Option("--tail", min=0, help="Last N rows; 0 = all.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the cached bars of SYMBOL, newest last, with their source and final flag."""
    from storage.prices import cached_symbols, count_rows, tail_rows

    db = app_context(ctx).db
    symbol = symbol.strip().upper()
    rows = tail_rows(db, symbol, tail)
    if not rows:
        fail(describe_unknown(f"no cached prices for {symbol!r}", symbol, cached_symbols(db)))
    if as_json:
        print_json({"symbol": symbol, "rows_stored": count_rows(db, symbol), "rows": _json(rows)})
        return
    _print_bars(symbol, rows, count_rows(db, symbol))


def _json(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    out = []
    for row in rows:
        item = {key: row[key] for key in ("date", *_NUMBERS)}
        volume = item["volume"]
        if isinstance(volume, float) and volume.is_integer():
            item["volume"] = int(volume)
        item |= {"final": bool(row["final"]), "source": row["source"]}
        item["fetched_at"] = row["fetched_at"]
        item |= {"status": row["status"], "quality_note": row["quality_note"]}
        out.append(item)
    return out


def _print_bars(symbol: str, rows: list[dict[str, object]], stored: int) -> None:
    fetched = max(str(row["fetched_at"]) for row in rows)
    title = f"{symbol}: last {len(rows):,} of {stored:,} rows"
    provisional = any(not row["final"] for row in rows)
    caption = f"fetched {fetched}" + ("; * = provisional (session still trading)" * provisional)
    if any(row["status"] != "ok" for row in rows):
        caption += "; ! = data-quality status below"
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("date", no_wrap=True)
    for name in ("open", "high", "low", "close", "adj close", "volume"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("source", no_wrap=True)
    for row in rows:
        numbers = [format_number(row[key], key == "volume") for key in _NUMBERS]
        source = str(row["source"]) + ("" if row["final"] else "[yellow]*[/]")
        source += "" if row["status"] == "ok" else " [red]![/]"
        table.add_row(str(row["date"]), *numbers, source)
    print_table(table)
    for row in rows:
        if row["status"] != "ok":
            note = f"{row['date']} {row['status']}: {row['quality_note'] or ''}"
            console.print(f"! {note}", markup=False, highlight=False, soft_wrap=True)
