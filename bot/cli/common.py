"""What every CLI command shares: settings, the database, one-line errors and JSON output."""

from __future__ import annotations

import difflib
import io
import json
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

# Commands import what they need inside their functions, so that `--help` (which imports
# every command module) loads neither pandas, sqlite-utils nor pydantic.
if TYPE_CHECKING:
    from bot.config import Settings
    from bot.rules.routing import Routing
    from bot.service.evaluation import CheckReport
    from signals.rules import Rule
    from storage.db import Store

from storage.urls import hide_password

console = Console()
err_console = Console(stderr=True)


@dataclass
class AppContext:
    """Resources the commands share; the database opens (and migrates) on first use."""

    overrides: dict[str, Any] = field(default_factory=dict)
    # A command that only reads: its settings are read without pydantic when every value
    # allows it (`bot.config.load_settings_quickly`), its database opened without sqlite-utils
    # when ready as it stands (`storage.sqlite_reading.open_reading`); same values, same errors.
    reads_only: bool = False
    # A command that writes but reads its settings as plain values (`prices import`): the
    # same quick reading of the settings, its database opened for writing as usual.
    quick_settings: bool = False
    _settings: Settings | None = field(default=None, repr=False)
    _db: Store | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        """The validated settings; invalid ones print one line each and exit 2."""
        if self._settings is None:
            from bot.config import ConfigError, load_settings, load_settings_quickly
            from bot.logging_setup import configure_logging

            quick = self.reads_only or self.quick_settings
            load = load_settings_quickly if quick else load_settings
            try:
                self._settings = load(**self.overrides)
            except ConfigError as error:
                print_problems(error.lines)
                raise typer.Exit(2) from None
            # Every command logs through the same redacting formatter as the service.
            configure_logging(self._settings)
            if isinstance(self._settings.db_path, Path):
                from bot import calendar

                calendar.cache_beside(self._settings.db_path)
        return self._settings

    @property
    def db(self) -> Store:
        """The migrated database named by `--db` or ROTATION_DB."""
        # A file path's folder exists: the settings refuse a missing one (a mistyped
        # ROTATION_DB would answer NO DATA everywhere), so a new file here is a first run.
        if self._db is None:
            self._db = self._open(self.settings.db_path, reads_only=self.reads_only)
        return self._db

    @staticmethod
    def _open(target: Path | str, *, reads_only: bool) -> Store:
        from storage.db import StorageError, open_db
        from storage.sqlite_reading import open_reading

        try:
            return open_reading(target) if reads_only else open_db(target)
        except StorageError as error:
            shown = target if isinstance(target, Path) else hide_password(target)
            fail(f"cannot open the database {shown}: {error}", 2)


def app_context(
    ctx: typer.Context, *, reads_only: bool = False, quick_settings: bool = False
) -> AppContext:
    """The AppContext the root callback stored on the click context (`reads_only`: the
    command only reads, see `AppContext.reads_only`; `quick_settings`: see its field)."""
    context: AppContext = ctx.find_root().obj
    context.reads_only = context.reads_only or reads_only
    context.quick_settings = context.quick_settings or quick_settings
    return context


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear line to stderr and exit with `code`, no traceback."""
    print_error(message)
    raise typer.Exit(code)


def print_error(message: str) -> None:
    """One red `error:` line on stderr, like `fail` but without exiting."""
    # Escaped and never wrapped: the message is data (file names, cells) and must stay one line.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def note(message: str) -> None:
    """One `note:` line on stderr: worth knowing, not an error."""
    err_console.print(f"note: {message}", markup=False, highlight=False, soft_wrap=True)


def print_problems(lines: Iterable[str]) -> None:
    """Lines that already say where the problem is (`file:line: ...`), as they are, on stderr."""
    for line in lines:
        err_console.print(line, markup=False, highlight=False, soft_wrap=True)


def rules_or_exit(
    settings: Settings, *, include_disabled: bool = False, db: Store | None = None
) -> list[Rule]:
    """The rules in force (with `db`, the chat rules too); on an invalid rules file print every
    problem and exit 1."""
    from bot.rules.files import RulesFileError, load_rules
    from bot.rules.stored import rules_in_force

    try:
        if db is not None:
            return rules_in_force(settings, db, include_disabled=include_disabled)
        return load_rules(settings, include_disabled=include_disabled)
    except RulesFileError as error:
        print_problems(error.problems)
        raise typer.Exit(1) from None


def routing_or_exit(settings: Settings, rules: Iterable[Rule], *, posting: bool = True) -> Routing:
    """The rules file's routing; exit 1 if invalid, 2 if a destination's platform cannot post.

    Args:
        posting: False for commands that only show the routing: no platform needs to be set up.
    """
    from bot.rules.files import RulesFileError, load_routing
    from bot.rules.routing import unroutable

    try:
        routing = load_routing(settings)
    except RulesFileError as error:
        print_problems(error.problems)
        raise typer.Exit(1) from None
    problems = unroutable(settings, routing.named(rules)) if posting else []
    print_problems(f"config error: {line}" for line in problems)
    if problems:
        raise typer.Exit(2)
    return routing


def print_json(data: Any) -> None:
    """Write `data` as JSON on stdout, for scripts; never fails on a value JSON cannot hold.

    NaN and infinities become null, dates ISO text, numpy scalars numbers, sets lists, and
    anything else its text.
    """
    text = json.dumps(json_safe(data), indent=2, allow_nan=False)
    sys.stdout.write(text + "\n")


def json_safe(value: Any) -> Any:
    """`value` with everything JSON cannot hold replaced (see `print_json`)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value
    if hasattr(value, "tolist") and not isinstance(value, float):  # numpy scalars, arrays
        return json_safe(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, date | datetime):
        return None if value != value else value.isoformat()  # pandas NaT is not equal to itself
    if isinstance(value, dict):
        return {_json_key(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    return str(value)


def _json_key(key: Any) -> str:
    return key if isinstance(key, str) else str(json_safe(key))


def describe_unknown(prefix: str, name: str, known: list[str]) -> str:
    """`prefix`, then the closest known names (any case) or a hint that nothing is stored."""
    if not known:
        return f"{prefix}: nothing is stored yet"
    by_lower = {k.lower(): k for k in known}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.5)
    close += [k for k in by_lower if name.lower() in k and k not in close][: 3 - len(close)]
    if close:
        return f"{prefix}; did you mean {', '.join(by_lower[k] for k in close)}?"
    return f"{prefix}; stored: {', '.join(known[:10])}{' ...' if len(known) > 10 else ''}"


def print_table(table: Table) -> None:
    """A table at the terminal's width; piped or redirected, at its natural width: one line
    per row, columns aligned, nothing wrapped (scripts and `grep` see whole rows)."""
    if console.is_terminal:
        console.print(table)
    else:
        table.box = None  # plain text: aligned columns, no box drawing for scripts to strip
        # On a console wider than the table (natural_width's limit), a table that does not
        # expand takes its natural width: the same lines as measuring it first, laid out once.
        plain = Console(width=_WIDEST, file=io.StringIO())
        plain.print(table)
        lines = plain.file.getvalue().splitlines()  # type: ignore[attr-defined]
        console.file.write("".join(f"{line.rstrip()}\n" for line in lines))


_WIDEST = 10_000


def natural_width(table: Table) -> int:
    """The columns a table takes with nothing wrapped."""
    return Measurement.get(console, console.options.update_width(_WIDEST), table).maximum


def print_lines(text: str) -> None:
    """Plain lines: wrapped by the terminal, never cut by rich in a pipe."""
    console.print(text, markup=False, highlight=False, soft_wrap=not console.is_terminal)


def id_table_column(table: Table, header: str, ids: Iterable[str]) -> None:
    """A column that never breaks an id: a narrow terminal folds the other columns instead."""
    width = max((len(i) for i in ids), default=len(header))
    table.add_column(header, no_wrap=True, min_width=max(width, len(header)))


def format_number(value: object, volume: bool = False) -> str:
    """A stored number for a table: no trailing zeros, volume as 1.2M, '' if missing."""
    if not isinstance(value, int | float):
        return ""
    if volume:
        return _humanize(float(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _humanize(value: float) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"{value / limit:.2f}".rstrip("0").rstrip(".") + suffix
    return f"{value:.0f}"


def say_when_nothing_evaluated(report: CheckReport) -> bool:
    """One line on stderr when no rule could be evaluated on current data (an empty or stale
    database): a table of NO DATA must not read as a successful check."""
    statuses = [check.evaluation.status for check in report.checks]
    if not statuses or "OK" in statuses:
        return False
    counts = ", ".join(f"{statuses.count(s)} {s}" for s in ("NO DATA", "STALE") if s in statuses)
    print_error(
        f"no rule was evaluated on current data ({counts}): import or update prices "
        "(rotation-bot prices import DIR, rotation-bot prices update)"
    )
    return True
