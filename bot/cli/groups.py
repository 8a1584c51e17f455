"""Command groups that several modules add commands to."""

import typer

prices_app = typer.Typer(help="Cached daily prices: import, update from Yahoo, show.")
series_app = typer.Typer(help="Stored series (FRED rates, P/E snapshots): import, update.")
rules_app = typer.Typer(
    help="Rules: validate a rules file, list the rules in force, export the rules made in chat."
)
