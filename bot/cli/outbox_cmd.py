"""`rotation-bot outbox`: list alerts waiting, delivered and dead; `outbox retry` re-queues."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.cli import app
from bot.cli.common import (
    app_context,
    console,
    fail,
    natural_width,
    print_json,
    print_lines,
    print_table,
)

if TYPE_CHECKING:
    from storage.db import Store

_STYLES = {"pending": "yellow", "sending": "cyan", "delivered": "green", "dead": "bold red"}


outbox_app = typer.Typer(help="List outbox rows; `retry` puts dead ones back in the queue.")
app.add_typer(outbox_app, name="outbox")


@outbox_app.callback(invoke_without_command=True)
def outbox(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print rows as JSON.")] = False,
    status: Annotated[
        str | None,
        typer.Option(
            "--status", help="Only rows in this state: pending, sending, delivered, dead."
        ),
    ] = None,
) -> None:
    """List outbox rows: pending, delivered and dead alerts per destination."""
    from storage.outbox import STATUSES, list_outbox

    if ctx.invoked_subcommand is not None:
        return
    if status is not None and status not in STATUSES:
        fail(f"unknown status {status!r}; use one of {', '.join(STATUSES)}", 2)
    rows = list_outbox(app_context(ctx, reads_only=True).db, status)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("outbox is empty" if status is None else f"no {status} rows")
        return
    table = outbox_table(rows)
    if console.is_terminal and natural_width(table) > console.width:
        # Keys and destinations are ids: rather than split them, one short block per row.
        print_lines("\n".join(line for row in rows for line in outbox_record(row)))
    else:
        print_table(table)


def outbox_record(row: dict[str, object]) -> list[str]:
    """One row as three short lines (a narrow terminal): what, where and when, why."""
    tries = f"{row['attempts']} attempt(s)"
    lines = [f"#{row['id']} {row['status']} ({tries})  {row['dedupe_key']}"]
    lines.append(f"    to {row['destination']}  at {_when(row)}")
    detail = _detail(row)
    return [*lines, f"    {detail}"] if detail else lines


def _when(row: dict[str, object]) -> str:
    when = row["delivered_at"] if row["status"] == "delivered" else row["next_attempt_at"]
    return str(when or "")[:16].replace("T", " ")


def _detail(row: dict[str, object]) -> str:
    detail = row["message_id"] if row["status"] == "delivered" else row["last_error"]
    return str(detail or "")[:200]


def outbox_table(rows: list[dict[str, object]]) -> Table:
    """The rows as a rich table; long errors are cut to keep one line per row."""
    table = Table("id", "status", "tries")
    for column in ("alert", "destination", "when (UTC)"):  # ids and stamps: never split
        table.add_column(column, no_wrap=True)
    table.add_column("message id / last error")  # the one column that wraps
    for row in rows:
        table.add_row(
            str(row["id"]),
            Text(str(row["status"]), style=_STYLES.get(str(row["status"]), "")),
            str(row["attempts"]),
            Text(str(row["dedupe_key"])),
            Text(str(row["destination"])),
            _when(row),
            Text(_detail(row)),
        )
    return table


@outbox_app.command("retry")
def retry(
    ctx: typer.Context,
    row_id: Annotated[int | None, typer.Argument(help="The id of a dead row.")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Every dead row.")] = False,
) -> None:
    """Put a dead row (or every dead row) back in the queue, due now, its age starting again."""
    from storage.outbox_health import dead_row_ids, requeue_rows
    from storage.stamps import utc_now

    if (row_id is None) == (not dead):
        fail("give a row id or --dead (not both)", 2)
    db = app_context(ctx).db  # writes
    ids = [_dead_row(db, row_id)] if row_id is not None else dead_row_ids(db)
    moved = requeue_rows(db, ids, utc_now())
    if dead and not moved:
        console.print("no dead rows")
        return
    console.print(f"{moved} row(s) back in the queue; the service or `check --deliver` sends them")


def _dead_row(db: Store, row_id: int) -> int:
    from storage.outbox_health import row_status

    status = row_status(db, row_id)
    if status is None:
        fail(f"no outbox row {row_id} (see rotation-bot outbox)")
    if status != "dead":
        fail(f"outbox row {row_id} is {status}, not dead: nothing to retry")
    return row_id
