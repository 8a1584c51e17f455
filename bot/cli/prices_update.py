"""`rotation-bot prices update [SYMBOL...]`: refresh the price cache from Yahoo Finance.

At most one chart request per symbol, incremental from each symbol's last cached final session
minus ROTATION_OVERLAP sessions; a symbol already current is not asked for at all. Symbols that
fail are named on stderr, one line each, and make the exit code 1; the others are stored all the
same.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.sources.refresh import PeRefresh, RefreshReport, SymbolRefresh
from bot.cli.common import (
    app_context,
    console,
    err_console,
    fail,
    note,
    print_error,
    print_json,
    print_table,
)
from bot.cli.groups import prices_app

if TYPE_CHECKING:
    from bot.sources.yahoo import YahooSource


@prices_app.command("update")
def update_prices(
    ctx: typer.Context,
    symbols: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="SYMBOL",
            help="Symbols to update, e.g. IWM ^RUT (default: the configured ones).",
            show_default=False,
        ),
    ] = None,
    pe: Annotated[
        bool, typer.Option("--pe", help="Also store trailing P/E snapshots (pe:<SYMBOL>).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Update cached daily prices from Yahoo Finance (incremental, only what is missing)."""
    from bot import calendar as nyse
    from bot.sources.base import SourceError
    from bot.sources.quality import quality_config
    from bot.sources.refresh import refresh_pe, refresh_prices
    from bot.sources.second_source import check_refresh
    from bot.sources.universe import configured_symbols

    context = app_context(ctx)
    wanted = parse_symbols(symbols) if symbols else configured_symbols(context.settings)
    source = yahoo_source(context.settings)
    started = time.perf_counter()
    try:
        doing = f"fetching {len(wanted)} symbols from Yahoo Finance"
        with err_console.status(doing) as spinner:
            source.on_retry = lambda text: spinner.update(f"{doing} ({text})")
            report = refresh_prices(
                context.db,
                source,
                wanted,
                history_start=context.settings.history_start,
                overlap_sessions=context.settings.refresh_overlap_sessions,
                today=nyse.new_york_date(source.clock()),
                quality=quality_config(context.settings),
                weekday_symbols=context.settings.weekday_symbols,
                now=source.clock(),
            )
            check_refresh(context.db, context.settings, report)
            valuations = refresh_pe(context.db, source, pe_symbols(wanted)) if pe else None
    except SourceError as error:
        fail(str(error))
    show_report(report, valuations, time.perf_counter() - started, as_json)
    print_warnings(report)
    exit_on_failures(report, valuations)


def print_warnings(report: RefreshReport) -> None:
    """One stderr line per symbol that lost bars, and one per bar held back as suspect."""
    for item in report.symbols:
        for line in item.warnings:
            err_console.print(f"warning: {line}", markup=False, highlight=False, soft_wrap=True)


def parse_symbols(texts: list[str]) -> list[str]:
    """Upper-cased, validated, de-duplicated symbols; exit 2 with one line on a bad one."""
    from bot.sources.universe import normalize_symbol

    try:
        return list(dict.fromkeys(normalize_symbol(text) for text in texts))
    except ValueError as error:
        fail(str(error), code=2)


def yahoo_source(settings: Settings) -> YahooSource:
    """The Yahoo source as configured (retries, timeout, optional ROTATION_YAHOO_URL)."""
    # Imported here: yfinance costs ~0.2 s to import and only this command needs it.
    from bot.sources.yahoo import YahooSource

    return YahooSource.from_settings(settings)


def pe_symbols(symbols: list[str]) -> list[str]:
    """Symbols that can have a P/E: not indices or rates (`^...`)."""
    return [symbol for symbol in symbols if not symbol.startswith("^")]


def show_report(
    report: RefreshReport, valuations: PeRefresh | None, seconds: float, as_json: bool
) -> None:
    """The per-symbol summary: a table, or JSON for scripts."""
    if as_json:
        print_json(report_json(report, valuations))
        return
    table = Table("symbol", "from", "bars", "changed", "last", "note", box=box.SIMPLE_HEAD)
    for item in report.symbols:
        table.add_row(*_row(item))
    print_table(table)
    fetched = sum(item.fetched for item in report.symbols)
    current = sum(item.up_to_date for item in report.symbols)
    console.print(
        f"{len(report.symbols)} symbols, {fetched:,} bars fetched, "
        f"{report.rows_changed:,} rows changed, {len(report.failures)} failed"
        + (f", {current} up to date (not asked for)" if current else "")
        + f" in {seconds:.2f}s"
    )
    for point in valuations.points if valuations else []:
        console.print(f"{point.series_id} = {point.value:.2f} on {point.date}")


def _row(item: SymbolRefresh) -> tuple[str, ...]:
    if item.error is not None:
        return (item.symbol, str(item.start), "-", "-", "-", "[red]failed[/]")
    if item.up_to_date:
        return (escape(item.symbol), "-", "0", "0", "-", "up to date: not asked for")
    notes = [n for n, on in (("provisional", item.provisional), ("re-based", item.rebased)) if on]
    notes.extend(f"back-fills {hole}" for hole in item.holes)
    return (
        escape(item.symbol),
        str(item.start),
        f"{item.fetched:,}",
        f"{item.changed:,}",
        str(item.last_date),
        ", ".join(notes),
    )


def report_json(report: RefreshReport, valuations: PeRefresh | None) -> dict[str, object]:
    """The JSON shape of `prices update --json`."""
    data: dict[str, object] = {
        "symbols": [vars(item) for item in report.symbols],
        "rows_changed": report.rows_changed,
        "failures": report.failures,
    }
    if valuations is not None:
        data["pe"] = [
            {"series_id": p.series_id, "date": p.date, "value": p.value} for p in valuations.points
        ]
        data["pe_failures"] = valuations.failures
    return data


def exit_on_failures(report: RefreshReport, valuations: PeRefresh | None) -> None:
    """One red line per failed symbol on stderr, then exit 1 if there was any."""
    from bot.service.fetch_outage import OFFLINE_HINT, unreachable

    failures = dict(report.failures)
    if valuations is not None:
        failures.update({f"pe:{s}": reason for s, reason in valuations.failures.items()})
    for symbol, reason in failures.items():
        print_error(f"{symbol}: {reason}")
    if failures and set(unreachable(report)) == set(report.failures):
        note(OFFLINE_HINT)  # no network, a proxy, Yahoo down: the way to go on offline
    if failures:
        raise typer.Exit(1)
