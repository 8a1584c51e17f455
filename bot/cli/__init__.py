"""The `rotation-bot` command line: the composition root for one-shot commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.cli.common import AppContext, print_problems
from bot.config import ConfigError, load_settings

app = typer.Typer(
    name="rotation-bot",
    help="Market-rotation alerts for trading-desk chat: data, signals, delivery.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        Path | None, typer.Option("--db", help="SQLite file to use (overrides ROTATION_DB).")
    ] = None,
) -> None:
    """Load and validate settings once, before any command runs."""
    overrides = {"db_path": db} if db is not None else {}
    try:
        settings = load_settings(**overrides)
    except ConfigError as error:
        print_problems(error.lines)
        raise typer.Exit(2) from None
    # Every command logs through the same redacting formatter as the service.
    from bot.logging_setup import configure_logging

    configure_logging(settings)
    ctx.obj = AppContext(settings=settings)


def _register_commands() -> None:
    # Each command lives in a module of its own that registers itself on `app` or a group.
    from bot.cli.groups import prices_app, rules_app, series_app

    app.add_typer(prices_app, name="prices")
    app.add_typer(series_app, name="series")
    app.add_typer(rules_app, name="rules")
    from bot.cli import (  # noqa: F401
        backtest_cmd,
        outbox_cmd,
        prices_data,
        prices_quality,
        prices_update,
        rules_cmds,
        run,
        series_data,
        signal_cmds,
        status_cmd,
    )


def main() -> None:
    """Console-script entry point."""
    _register_commands()
    app()
