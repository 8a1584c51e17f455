"""`rotation-bot series import|update|show`: stored dated series (FRED rates, P/E history)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from bot.cli.common import (
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
from bot.cli.groups import series_app
from bot.cli.prices_data import print_quality_changes

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.sources.fred import FredSource
    from signals.models import SeriesPoint
    from storage.db import Store


@series_app.command("import")
def import_series(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV file: date,value or date,ID1,ID2,...; or a French library 5x5 zip or CSV"
        ),
    ],
    series_id: Annotated[
        str | None,
        typer.Option(
            "--id",
            help="Series id for a one-column file (default: its header, or the file name if"
            " the header is `value`); in a wide file, import only this column.",
        ),
    ] = None,
) -> None:
    """Import one series (`date,value`), a wide `date,A,B,...` file, or a French library file."""
    from bot.cli.series_french import import_french, is_french_file
    from bot.sources.base import SourceError
    from bot.sources.series_csv import read_series_file

    context = app_context(ctx)
    if is_french_file(file):
        import_french(context.db, file, context.settings)
        return
    try:
        points = read_series_file(file, series_id)
    except SourceError as error:
        fail(f"{error} (nothing imported)")
    if not any(points.values()):
        fail(f"{file} holds no values (nothing imported)")
    changed = _store_series(context.db, points, context.settings)
    _print_summary("series import", points, changed)


def _store_series(
    db: Store, points: dict[str, list[SeriesPoint]], settings: Settings
) -> dict[str, int]:
    """Write every series in one transaction, then judge their moves; rows changed per series.

    A series stored for the first time is judged from memory; one that did not change is not.
    """
    from bot.sources.quality import quality_config, review_series, series_of_points
    from storage.series import last_series_dates, upsert_points

    cached = last_series_dates(db)
    with db.atomic():
        changed = {sid: upsert_points(db, values) for sid, values in points.items()}
    fresh = {sid: series_of_points(points[sid]) for sid in points if sid not in cached}
    ids = [sid for sid, count in changed.items() if count]
    print_quality_changes(review_series(db, ids, quality_config(settings), known=fresh))
    return changed


def _print_summary(
    title: str, points: dict[str, list[SeriesPoint]], changed: dict[str, int]
) -> None:
    table = Table("series", "points", "first", "last", "changed", title=title)
    for sid, values in points.items():
        first = str(values[0].date) if values else "-"
        last = str(values[-1].date) if values else "-"
        table.add_row(sid, f"{len(values):,}", first, last, f"{changed.get(sid, 0):,}")
    print_table(table)
    total = sum(len(values) for values in points.values())
    console.print(f"{len(points)} series, {total:,} points, {sum(changed.values()):,} changed")


@series_app.command("update")
def update_series(
    ctx: typer.Context,
    ids: Annotated[
        list[str] | None, typer.Argument(help="FRED series ids (default: FRED_SERIES).")
    ] = None,
) -> None:
    """Download FRED series incrementally (from the last stored date minus a week), and the
    French library's current 5x5 file (FRENCH_5X5_URL) when no ids are given."""
    from bot.cli.series_french import report_failure, update_french
    from bot.sources.fred import FredSource

    context = app_context(ctx)
    wanted = [sid.strip().upper() for sid in ids or context.settings.fred_series]
    french = not ids and bool(context.settings.french_url)
    if not wanted and not french:
        fail("no series to update: pass ids or set FRED_SERIES")
    source = FredSource.from_settings(context.settings)
    starts = _update_starts(context.db, wanted)
    points, failures = _fetch_all(source, wanted, starts)
    changed = _store_series(context.db, points, context.settings)
    if points:
        _print_summary("series update (FRED)", points, changed)
    for sid, reason in failures.items():
        print_error(f"{sid}: {reason}")
    french_failure = update_french(context.db, context.settings) if french else None
    if french_failure:
        report_failure(french_failure)
    if failures or french_failure:
        raise typer.Exit(1)


def _update_starts(db: Store, ids: list[str]) -> dict[str, date | None]:
    from bot.sources.fred import update_start
    from storage.series import last_series_dates

    last = last_series_dates(db)
    return {sid: update_start(last.get(sid)) for sid in ids}


def _fetch_all(
    source: FredSource, ids: list[str], starts: dict[str, date | None]
) -> tuple[dict[str, list[SeriesPoint]], dict[str, str]]:
    """Points per id that downloaded, and a reason per id that did not (others still count)."""
    from bot.sources.base import SourceError

    points: dict[str, list[SeriesPoint]] = {}
    failures: dict[str, str] = {}
    for sid in ids:
        with err_console.status(f"downloading {sid} from FRED"):
            try:
                values = source.fetch_one(sid, starts[sid])
            except SourceError as error:
                failures[sid] = str(error)
                continue
        if not values and starts[sid] is None:
            failures[sid] = "FRED returned no observations"
        else:
            points[sid] = values
    return points, failures


@series_app.command("show")
def show_series(
    ctx: typer.Context,
    series_id: Annotated[str, typer.Argument(help="Series id, e.g. DGS10 or pe:IWM.")],
    tail: Annotated[int, typer.Option("--tail", min=0, help="Last N points; 0 = all.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show the stored points of a series, newest last."""
    from storage.series import series_ids, tail_points

    db = app_context(ctx).db
    known = series_ids(db)
    # Ids are stored as given (pe:IWM), but `dgs10` should still find DGS10.
    series_id = next((k for k in known if k.lower() == series_id.lower()), series_id)
    rows = tail_points(db, series_id, tail)
    if not rows:
        fail(describe_unknown(f"no stored series {series_id!r}", series_id, known))
    if as_json:
        keys = ("date", "value", "source", "fetched_at")
        print_json({"series_id": series_id, "rows": [{k: row[k] for k in keys} for row in rows]})
        return
    table = Table("date", "value", "source", "fetched_at", title=f"{series_id}: last {len(rows)}")
    for row in rows:
        value = format_number(row["value"])
        table.add_row(str(row["date"]), value, str(row["source"]), str(row["fetched_at"]))
    print_table(table)
