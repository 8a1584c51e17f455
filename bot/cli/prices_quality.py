"""`rotation-bot prices accept|reject SYMBOL DATE`: a person's verdict on a suspect bar, and
`prices review`: judge the whole cached history again (after an upgrade, or new settings).

Accepting makes a bar (or a series point, e.g. DFEDTARU) usable at once, so a rule may fire
on it at the next check; rejecting keeps it away from every rule until the source sends a
different value. The quality checks never override either verdict.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import app_context, console, fail
from bot.cli.groups import prices_app
from bot.cli.prices_data import print_quality_changes
from bot.cli.signal_cmds import normalize, parse_day

Name = Annotated[str, typer.Argument(help="Symbol (IWM, ^RUT) or series id (DFEDTARU).")]
Day = Annotated[str, typer.Argument(help="Date of the bar, YYYY-MM-DD.")]


@prices_app.command("accept")
def accept(ctx: typer.Context, name: Name, day: Day) -> None:
    """Accept a suspect bar: rules read it from the next check on."""
    from signals.quality import ACCEPTED

    _decide(ctx, name, day, ACCEPTED)


@prices_app.command("reject")
def reject(ctx: typer.Context, name: Name, day: Day) -> None:
    """Reject a bar: no rule, spread or chart reads it until the source corrects it."""
    from signals.quality import REJECTED

    _decide(ctx, name, day, REJECTED)


def _decide(ctx: typer.Context, name: str, text: str, status: str) -> None:
    from bot.sources.decisions import DecisionError, decide
    from bot.sources.quality import quality_config

    context = app_context(ctx)
    day = parse_day(text, "DATE")
    assert day is not None
    symbol = normalize(name)
    try:
        old, _ = decide(context.db, symbol, day, status, quality_config(context.settings))
    except DecisionError as error:
        fail(str(error))
    console.print(f"{symbol} {day}: {old} -> {status}", markup=False, highlight=False)


@prices_app.command("review")
def review(ctx: typer.Context) -> None:
    """Judge every cached bar and series point again with the current data-quality settings."""
    from bot.sources.quality import quality_config, review_prices, review_series
    from storage.prices import cached_symbols
    from storage.series import series_ids

    context = app_context(ctx)
    config = quality_config(context.settings)
    changes = review_prices(context.db, cached_symbols(context.db), config)
    changes += review_series(context.db, series_ids(context.db), config)
    print_quality_changes(changes)
    console.print(f"{len(changes)} status change(s)", markup=False, highlight=False)
