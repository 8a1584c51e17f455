"""`rotation-bot run`: the product's main job (filled in by the service issue)."""

from __future__ import annotations

import typer

from bot.cli import app
from bot.cli.common import app_context, console


@app.command()
def run(ctx: typer.Context) -> None:
    """Start the bot: refresh data, evaluate rules on schedule, deliver alerts."""
    context = app_context(ctx)
    console.print(f"database: {context.settings.db_path}")
