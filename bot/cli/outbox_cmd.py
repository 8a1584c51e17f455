"""`rotation-bot outbox`: list alerts waiting, delivered and dead; `outbox retry` re-queues."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.cli import app
from bot.cli.common import app_context, console, fail, print_json

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
    rows = list_outbox(app_context(ctx).db, status)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("outbox is empty" if status is None else f"no {status} rows")
        return
    console.print(outbox_table(rows))


def outbox_table(rows: list[dict[str, object]]) -> Table:
    """The rows as a rich table; long errors are cut to keep one line per row."""
    table = Table("id", "status", "tries")
    table.add_column("alert", overflow="fold")
    table.add_column("destination", overflow="fold")
    table.add_column("when (UTC)", no_wrap=True)
    table.add_column("message id / last error", overflow="fold")
    for row in rows:
        when = row["delivered_at"] if row["status"] == "delivered" else row["next_attempt_at"]
        detail = row["message_id"] if row["status"] == "delivered" else row["last_error"]
        table.add_row(
            str(row["id"]),
            Text(str(row["status"]), style=_STYLES.get(str(row["status"]), "")),
            str(row["attempts"]),
            Text(str(row["dedupe_key"])),
            Text(str(row["destination"])),
            str(when or "")[:16].replace("T", " "),
            Text(str(detail or "")[:200]),
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
    db = app_context(ctx).db
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
