"""`rotation-bot status [--json]`: data freshness, last evaluation, service, outbox backlog."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from bot.cli import app
from bot.cli.common import app_context, print_json, print_lines


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Health of data, evaluations, the running service and deliveries (exit 1 if degraded)."""
    from bot.service.health import collect_health, render_lines

    context = app_context(ctx)
    health = collect_health(context.db, datetime.now(UTC), context.settings)
    if as_json:
        print_json(health.to_dict())
    else:
        print_lines("\n".join(render_lines(health)))
    raise typer.Exit(0 if health.ok else 1)
