"""`rotation-bot rules validate [FILE]`, `rules list` and `rules export`: check and show the
rules in force, and write the rules made in chat as a rules file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from bot.cli.common import (
    app_context,
    console,
    fail,
    id_table_column,
    print_json,
    print_problems,
    rules_or_exit,
)
from bot.cli.groups import rules_app

if TYPE_CHECKING:
    from signals.rules import Rule


@rules_app.command("validate")
def validate(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(help="Rules file (default: ROTATION_RULES, else the built-in rules)."),
    ] = None,
) -> None:
    """Report every problem in a rules file with its line; exit 1 if there is any."""
    from bot.rules.files import validate_file

    target = path or app_context(ctx).settings.rules_path
    if target is None:
        problems = _validate_defaults()
        label = "built-in rules"
    else:
        problems = validate_file(target)
        label = str(target)
    print_problems(problems)
    if problems:
        raise typer.Exit(1)
    console.print(f"ok: {label} is valid", markup=False, highlight=False)


def _validate_defaults() -> list[str]:
    from bot.rules.files import RulesFileError, default_entries, parse_entries

    try:
        return parse_entries(default_entries())[1]
    except RulesFileError as error:
        return error.problems


@rules_app.command("list")
def list_rules(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show the rules in force (built-in rules, ROTATION_RULES, rules made in chat), disabled
    ones too, each with where it comes from."""
    from bot.rules.stored import rule_origins

    context = app_context(ctx)
    rules = rules_or_exit(context.settings, include_disabled=True, db=context.db)
    origins = rule_origins(context.settings, context.db)
    if as_json:
        print_json([rule_json(rule) | {"origin": origins.get(rule.id, "")} for rule in rules])
        return
    table = Table(box=box.SIMPLE)
    id_table_column(table, "id", (rule.id for rule in rules))
    for column in ("type", "on", "reads", "from", "name"):
        table.add_column(column, overflow="fold")
    for rule in rules:
        on = "yes" if rule.enabled else "no"
        legs = ", ".join(rule.legs())
        cells = (rule.id, rule.type, on, legs, origins.get(rule.id, ""), rule.title)
        table.add_row(*(escape(cell) for cell in cells))  # names are text, never markup
    console.print(table)


def rule_json(rule: Rule) -> dict[str, Any]:
    """The JSON shape of one rule in `rules list --json`: every field, plus `unit`."""
    return {**rule.to_mapping(), "unit": rule.unit}


@rules_app.command("export")
def export_rules(
    ctx: typer.Context,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (default: standard output)."),
    ] = None,
) -> None:
    """Write the rules made in chat as a rules file (TOML that `rules validate` accepts)."""
    from bot.rules.stored import export_toml
    from storage.chat_rules import list_rules as chat_rules

    stored = chat_rules(app_context(ctx).db)
    text = export_toml(stored)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror or error}")
    console.print(f"wrote {len(stored)} chat rule(s) to {output}", markup=False, highlight=False)
