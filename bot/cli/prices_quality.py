"""`rotation-bot prices accept|reject SYMBOL DATE`: a person's verdict on a suspect bar.

Accepting makes a bar (or a series point, e.g. DFEDTARU) usable at once, so a rule may fire
on it at the next check; rejecting keeps it away from every rule until the source sends a
different value. The quality checks never override either verdict.
"""

from __future__ import annotations

from typing import Annotated

import typer

from bot.cli.common import app_context, console, fail
from bot.cli.groups import prices_app
from bot.cli.signal_cmds import normalize, parse_day
from bot.quality import DecisionError, decide, quality_config
from signals.quality import ACCEPTED, REJECTED

Name = Annotated[str, typer.Argument(help="Symbol (IWM, ^RUT) or series id (DFEDTARU).")]
Day = Annotated[str, typer.Argument(help="Date of the bar, YYYY-MM-DD.")]


@prices_app.command("accept")
def accept(ctx: typer.Context, name: Name, day: Day) -> None:
    """Accept a suspect bar: rules read it from the next check on."""
    _decide(ctx, name, day, ACCEPTED)


@prices_app.command("reject")
def reject(ctx: typer.Context, name: Name, day: Day) -> None:
    """Reject a bar: no rule, spread or chart reads it until the source corrects it."""
    _decide(ctx, name, day, REJECTED)


def _decide(ctx: typer.Context, name: str, text: str, status: str) -> None:
    context = app_context(ctx)
    day = parse_day(text, "DATE")
    assert day is not None
    symbol = normalize(name)
    try:
        old, _ = decide(context.db, symbol, day, status, quality_config(context.settings))
    except DecisionError as error:
        fail(str(error))
    console.print(f"{symbol} {day}: {old} -> {status}", markup=False, highlight=False)
