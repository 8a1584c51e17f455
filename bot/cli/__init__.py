"""The `rotation-bot` command line: the composition root for one-shot commands."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from bot.cli.common import AppContext, print_error, print_problems
from bot.config import ConfigError, load_settings

# typer 0.2x ships its own copy of click; older releases use click itself.
try:
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException, NoArgsIsHelpError, UsageError

app = typer.Typer(
    name="rotation-bot",
    help="Market-rotation alerts for trading-desk chat: data, signals, delivery.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(asked: bool) -> None:
    if asked:
        try:
            print(f"rotation-bot {version('rotation-bot')}")
        except PackageNotFoundError:  # running from a checkout that was never installed
            print("rotation-bot (not installed)")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="SQLite file or postgresql:// URL to use (overrides ROTATION_DB).",
        ),
    ] = None,
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
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
    """Console-script entry point: exit 0 done, 1 the command failed, 2 a usage error."""
    _register_commands()
    try:
        code = app(prog_name="rotation-bot", standalone_mode=False)
    except NoArgsIsHelpError as error:
        error.show()
        code = 2
    except UsageError as error:
        print_error(f"{_one_line(error.format_message())} {_help_hint(error)}")
        code = 2
    except ClickException as error:
        print_error(_one_line(error.format_message()))
        code = error.exit_code
    except typer.Abort:
        print_error("aborted")
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _help_hint(error: UsageError) -> str:
    path = error.ctx.command_path if error.ctx is not None else "rotation-bot"
    return f"(see `{path} --help`)"
