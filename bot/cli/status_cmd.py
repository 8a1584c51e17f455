"""`rotation-bot status [--json]`: data freshness, last evaluation, service, outbox backlog."""

from __future__ import annotations

import re
import textwrap
from datetime import UTC, datetime
from typing import Annotated

import typer

from bot.cli import app
from bot.cli.common import app_context, console, print_json, print_lines

# `IWC (88 behind)`, `slack:C0DESK001 (paused)`: a name and its parenthesis, kept on one line.
_UNIT = re.compile(r"\S+ \([^()]*\)")
_KEEP = "\x00"


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Health of data, evaluations, the running service and deliveries (exit 1 if degraded)."""
    from bot.service.health import collect_health, render_lines

    context = app_context(ctx, reads_only=True)
    health = collect_health(context.db, datetime.now(UTC), context.settings)
    if as_json:
        print_json(health.to_dict())
    else:
        lines = render_lines(health)
        if console.is_terminal:  # wrapped here, between units, never inside `IWC (88 behind)`
            lines = [part for line in lines for part in wrap_units(line, console.width)]
        print_lines("\n".join(lines))
    raise typer.Exit(0 if health.ok else 1)


def wrap_units(line: str, width: int) -> list[str]:
    """`line` wrapped at `width` between words, a name and its parenthesis never apart."""
    indent = " " * (len(line) - len(line.lstrip()) + 4)
    kept = _UNIT.sub(lambda unit: unit[0].replace(" ", _KEEP), line)
    parts = textwrap.wrap(
        kept, width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False
    )
    return [part.replace(_KEEP, " ") for part in parts] or [line]
