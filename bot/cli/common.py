"""What every CLI command shares: settings, the database, one-line errors and JSON output."""

from __future__ import annotations

import json
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from sqlite_utils import Database

from bot.config import Settings
from storage.db import open_db

console = Console()
err_console = Console(stderr=True)


@dataclass
class AppContext:
    """Resources the commands share; the database opens (and migrates) on first use."""

    settings: Settings
    _db: Database | None = field(default=None, repr=False)

    @property
    def db(self) -> Database:
        """The migrated database named by `--db` or ROTATION_DB."""
        if self._db is None:
            path = self.settings.db_path
            try:
                self._db = open_db(path)
            except (OSError, sqlite3.DatabaseError) as error:
                fail(f"cannot open the database {path}: {error}", 2)
        return self._db


def app_context(ctx: typer.Context) -> AppContext:
    """The AppContext the root callback stored on the click context."""
    return ctx.find_root().obj


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one clear line to stderr and exit with `code`, no traceback."""
    # Escaped and never wrapped: the message is data (file names, cells) and must stay one line.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def print_json(data: Any) -> None:
    """Write `data` as JSON on stdout (NaN becomes null), for scripts."""
    text = json.dumps(_nan_to_none(data), default=_default, indent=2, allow_nan=False)
    sys.stdout.write(text + "\n")


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(item) for item in value]
    return value
