"""The `rotation-bot` command line: the composition root for one-shot commands."""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Annotated

import typer

from bot.cli.common import AppContext, print_error
from bot.cli.pipes import StdoutPipe, silence_stdout

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
        from bot.light_imports import installed_version

        version = installed_version("rotation-bot")
        if version is None:  # running from a checkout that was never installed
            print("rotation-bot (not installed)")
        else:
            print(f"rotation-bot {version}")
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
    """Settings are loaded and validated once, when the command first needs them.

    Not here: a subcommand's `--help` runs this callback too, and should not pay for pydantic.
    """
    ctx.obj = AppContext(overrides={"db_path": db} if db is not None else {})


# The modules a start needs when it names one of these commands first: `status` reads the
# database, and a group's modules are enough for its commands and its `--help` (each start
# pays only for what it runs). Anything else (`--help`, a typo, other commands) registers
# every command, so the root help and "No such command" are as they always were.
_ONLY: dict[str, tuple[str, ...]] = {
    "status": ("status_cmd",),
    "outbox": ("outbox_cmd",),
    "backtest": ("backtest_cmd",),
    "rules": ("rules_cmds",),
    "prices": ("prices_data", "prices_quality", "prices_update"),
    "series": ("series_data",),
}
_GROUPS = ("prices", "series", "rules")


@functools.cache  # once per process: every add_typer appends, and tests call this per invoke
def _register_commands() -> None:
    # Each command lives in a module of its own that registers itself on `app` or a group.
    _add_groups(*_GROUPS)
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


@functools.cache
def _add_group(name: str) -> None:
    from bot.cli import groups

    app.add_typer(getattr(groups, f"{name}_app"), name=name)


def _add_groups(*names: str) -> None:
    for name in names:
        _add_group(name)


def _register_commands_for(args: list[str]) -> None:
    """Register the commands `args` may run: the one it names, or every one."""
    command = _command_named(args)
    if command not in _ONLY:
        _register_commands()
        return
    if command in _GROUPS:
        _add_groups(command)
    for module in _ONLY[command]:
        importlib.import_module(f"bot.cli.{module}")


def _command_named(args: list[str]) -> str | None:
    """The first argument past the root options (`--db PATH`), or None if an option comes."""
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--db":
            rest = rest[1:]
        elif not arg.startswith("--db="):
            return None if arg.startswith("-") else arg
    return None


def main() -> None:
    """Console-script entry point: exit 0 done, 1 the command failed, 2 a usage error.

    Output piped into a reader that stopped early (`| head`) ends quietly with 0.
    """
    _register_commands_for(sys.argv[1:])
    pipe = StdoutPipe()
    try:
        code = _run()
    except (BrokenPipeError, SystemExit):  # rich and click exit 1 on EPIPE
        if not pipe.reader_left():
            raise
        silence_stdout()
        code = 0
    finally:
        pipe.close()
    sys.exit(code)


def _run() -> int:
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
    return code if isinstance(code, int) else 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _help_hint(error: UsageError) -> str:
    path = error.ctx.command_path if error.ctx is not None else "rotation-bot"
    return f"(see `{path} --help`)"
