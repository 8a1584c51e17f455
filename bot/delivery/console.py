"""The default destination when no chat platform is configured: alerts printed with rich."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.delivery.message import AlertMessage, DeliveryResult, without_fence

_STYLES = {"up": "green", "down": "red", "neutral": "white"}


class ConsoleNotifier:
    """Prints each alert as a coloured panel; posting cannot fail, so nothing to look up."""

    name = "console"
    min_interval = 0.0
    shows_charts = False  # a terminal prints no PNG: callers may skip drawing one for it

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.count = 0

    def send(self, message: AlertMessage, *, idempotency_key: str) -> DeliveryResult:
        """Print the alert."""
        self.console.print(render_panel(message))
        self.count += 1
        return DeliveryResult(self.name, f"console-{self.count}")

    def find_existing(self, idempotency_key: str, *, since: datetime) -> DeliveryResult | None:
        """The console keeps no history: an interrupted print is printed again."""
        return None


def render_panel(message: AlertMessage) -> Panel:
    """The alert as a rich Panel: headline, measures table, description, data date and rule."""
    style = _STYLES.get(message.direction, "white")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for name, value in message.fields:
        table.add_row(Text(name), Text(without_fence(value)))
    body = Table.grid()
    body.add_row(table)
    if message.description:
        body.add_row(Text(message.description))
    if message.track_record:
        body.add_row(Text(f"Track record: {message.track_record}"))
    body.add_row(Text(f"data {message.data_date.isoformat()} · {message.footer}", "dim"))
    if message.chart_png:
        body.add_row(Text("chart attached on chat platforms", "dim"))
    title = Text(message.headline, style=f"bold {style}")
    return Panel(body, title=title, title_align="left", border_style=style)
