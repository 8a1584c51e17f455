"""`rotation-bot outbox`: list alerts waiting, delivered and dead, per destination."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from bot.cli import app
from bot.cli.common import app_context, console, fail, print_json
from storage.outbox import STATUSES, list_outbox

_STYLES = {"pending": "yellow", "sending": "cyan", "delivered": "green", "dead": "bold red"}


@app.command("outbox")
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
