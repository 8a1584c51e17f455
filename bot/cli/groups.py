"""Command groups that several modules add commands to.

A group without its command shows its help and exits 2, as bare `rotation-bot` does.
"""

import typer

prices_app = typer.Typer(
    help="Cached daily prices: import, update from Yahoo, show.", no_args_is_help=True
)
series_app = typer.Typer(
    help="Stored series (FRED rates, P/E snapshots): import, update.", no_args_is_help=True
)
rules_app = typer.Typer(
    help="Rules: validate a rules file, list the rules in force, export the rules made in chat.",
    no_args_is_help=True,
)
