"""`rotation-bot backtest`: the events each rule would have emitted over the stored history."""

from __future__ import annotations

import atexit
import functools
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from bot.cli import app
from bot.cli.common import app_context, console, fail, print_error, print_json, rules_or_exit
from bot.cli.signal_cmds import JsonFlag, check_range, parse_day

if TYPE_CHECKING:
    from signals.holes import Hole
    from signals.models import MarketData
    from signals.outcomes import Horizon, TrackRecord
    from signals.rules import Rule


@app.command("backtest")
def backtest_cmd(
    ctx: typer.Context,
    rule_id: Annotated[str | None, typer.Option("--rule", help="Only this rule id.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="First date YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last date YYYY-MM-DD.")] = None,
    as_json: JsonFlag = False,
    outcomes: Annotated[
        bool, typer.Option("--outcomes", help="Add what followed past firings (1M/3M/6M).")
    ] = False,
    chart_dir: Annotated[
        Path | None, typer.Option("--chart", help="With --outcomes: write <rule>.png charts here.")
    ] = None,
    horizons: Annotated[
        str | None,
        typer.Option(
            "--horizons", help="With --outcomes: LABEL=SESSIONS,... (1M=21,3M=63,6M=126)."
        ),
    ] = None,
) -> None:
    """The events each rule would have emitted, using the state machine exactly as live does.

    With --outcomes, each rule's track record too: the move after every past firing (since
    the start of its history, up to --to) over 1, 3 and 6 months (21, 63, 126 sessions).
    """
    first, last = parse_day(start, "--from"), parse_day(end, "--to")
    if first and last and first > last:
        fail(f"--from {first} is after --to {last}", 2)
    if (chart_dir is not None or horizons is not None) and not outcomes:
        fail("--chart and --horizons are about track records: add --outcomes", 2)
    windows = None
    if outcomes:
        from bot.cli.outcomes_output import parse_horizons  # track records: only when asked

        windows = parse_horizons(horizons)
    with _imports_frozen():
        results, records = _backtest_all(ctx, rule_id, first, last, windows)
        if chart_dir is not None:
            from bot.cli.outcomes_output import write_charts

            write_charts(records, chart_dir)
        if as_json:
            print_json({"from": first, "to": last, "rules": results})
        else:
            _print_backtest(results, records)
    _exit_on_no_data(results)


@contextmanager
def _imports_frozen() -> Iterator[None]:
    """What is imported so far kept out of the cyclic collector's way while the block runs.

    A backtest builds 100,000 rows and frames: each full collection they set off would walk
    every object of pandas, the engine and the CLI too, which live until exit anyway.
    Unfrozen after, so a process running many commands (the tests) collects as it did.
    """
    import bot.market  # noqa: F401 (pandas and the engine, imported before the freeze)
    import signals.evaluate  # noqa: F401

    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        _frozen_at_exit()


@functools.cache  # once per process
def _frozen_at_exit() -> None:
    # The interpreter's last collection, at exit, walks every object still alive (pandas, the
    # engine, the market: about a tenth of a backtest's CPU) only to free cycles nothing needs
    # any more; frozen first, they go with the process. The database is closed before.
    atexit.register(gc.freeze)


def _backtest_all(
    ctx: typer.Context,
    rule_id: str | None,
    first: date | None,
    last: date | None,
    windows: tuple[Horizon, ...] | None,
) -> tuple[list[dict[str, Any]], list[TrackRecord | None]]:
    """Every selected rule's backtest (with its track record when `windows` are given)."""
    # Not the service's module (crash points, outbox, check reuse).
    from bot.market import load_backtest_market, load_market
    from storage.versioning import data_version

    # The backtest only reads: settings without pydantic and the database without
    # sqlite-utils when they allow it (the same values and errors; see AppContext.reads_only).
    db = app_context(ctx, reads_only=True).db
    try:
        rules = _select(ctx, rule_id)
        version = data_version(db)
        # Track records read more of each bar than the events do.
        market = load_backtest_market(db, rules) if windows is None else load_market(db, rules)
    finally:
        db.close()  # read once: closed now, not left to the collector at exit
    check_range(market, first, last)
    results = [_backtest_one(rule, market, first, last) for rule in rules]
    if windows is None:
        return results, []
    from bot.cli import outcomes_output as out

    records = [out.outcomes_of(r, market, version, last, windows) for r in rules]
    results = [out.with_outcomes(row, rec) for row, rec in zip(results, records, strict=True)]
    return results, records


def _exit_on_no_data(results: list[dict[str, Any]]) -> None:
    """A rule without data has no backtest: say which, and exit 1 (its reason is above)."""
    missing = [result["id"] for result in results if result["status"] == "NO DATA"]
    if missing:
        print_error(f"{len(missing)} rule(s) NO DATA, not backtested: {', '.join(missing)}")
        raise typer.Exit(1)


def _select(ctx: typer.Context, rule_id: str | None) -> list[Rule]:
    settings, db = app_context(ctx).settings, app_context(ctx).db
    if rule_id is None:
        return rules_or_exit(settings, db=db)
    every = rules_or_exit(settings, include_disabled=True, db=db)
    chosen = [rule for rule in every if rule.id == rule_id]
    if not chosen:
        fail(f"unknown rule id {rule_id!r}; see `rotation-bot rules list`")
    return chosen


def _backtest_one(
    rule: Rule, market: MarketData, first: date | None, last: date | None
) -> dict[str, Any]:
    from signals.evaluate import backtest_report
    from signals.legs import DataError

    try:
        events, holes = backtest_report(rule, market, first, last)
    except DataError as error:
        return {"id": rule.id, "status": "NO DATA", "reason": str(error), "events": []}
    rows = [
        {
            "kind": e.kind,
            "date": e.date,
            "episode": e.episode,
            "title": e.title,
            "measure": e.measure,
            "threshold": e.threshold,
            "unit": e.unit,
            "direction": e.direction,
        }
        for e in events
    ]
    return {"id": rule.id, "status": "OK", "reason": _holes_reason(holes), "events": rows}


def _holes_reason(holes: tuple[Hole, ...]) -> str:
    """Why some sessions have no measure: the holes in the rule's price history."""
    if not holes:
        return ""
    listed = "; ".join(hole.describe() for hole in holes)
    return f"{listed} (no measure across them, nothing fired or reversed over them)"


def _print_backtest(results: list[dict[str, Any]], records: list[TrackRecord | None]) -> None:
    for at, result in enumerate(results):
        fired = sum(1 for row in result["events"] if row["kind"] == "fired")
        _print_heading(result, fired)
        # One print for all the rule's events: rich wraps each line alone, so the text is the
        # same as a print per line, at a quarter of the cost (a full backtest prints hundreds).
        lines = [f"  {row['date']} {row['kind']:<8} {row['title']}" for row in result["events"]]
        if lines:
            _print_plain("\n".join(lines))
        if records:
            from bot.cli.outcomes_output import print_outcomes

            print_outcomes(records[at])


def _print_heading(result: dict[str, Any], fired: int) -> None:
    plain = f"{result['id']}: {result['status']} {result['reason']} ({fired} fired)"
    if _MARKUP_SIGNS.search(plain) is None and _left_alone_by_rich(plain):
        _write(plain)
        return
    reason = escape(result["reason"])  # data (symbol names, dates), not markup
    console.print(f"[bold]{result['id']}[/]: {result['status']} {reason} ({fired} fired)")


def _print_plain(text: str) -> None:
    """`console.print(text)` without markup or highlighting."""
    if _left_alone_by_rich(text):
        _write(text)
    else:
        console.print(text, markup=False, highlight=False)


# What rich would change in a line: anything but printable ASCII (cell widths, controls,
# tabs), and `:name:`, which it may read as an emoji code; in a heading, its markup too.
_PRINTABLE = re.compile(r"[ -~]*")
_EMOJI_CODE = re.compile(r":\S*:")
_MARKUP_SIGNS = re.compile(r"[\[\]\\]")


def _left_alone_by_rich(text: str) -> bool:
    """True when rich would write `text` as it is, on a console with no terminal and no
    colours (a pipe or a file, as scripts and the bench read it): every line printable ASCII
    within the console's width and holding no emoji code. Laying out the lines of a full
    backtest is then a write, not rich's wrapping of each line."""
    if console.is_terminal or console.color_system is not None or console.record:
        return False
    width = console.width
    return all(
        len(line) <= width and _PRINTABLE.fullmatch(line) and not _EMOJI_CODE.search(line)
        for line in text.split("\n")
    )


def _write(text: str) -> None:
    console.file.write(text + "\n")
    console.file.flush()  # as rich does: ordered with the error lines on stderr
