"""`rotation-bot rules validate [FILE]`, `rules list`, `rules show ID` and `rules export`: check
and show the rules in force, and write the rules made in chat as a rules file."""

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
    print_table,
    routing_or_exit,
    rules_or_exit,
)
from bot.cli.groups import rules_app

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.rules.routing import Routing
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

    settings = app_context(ctx, reads_only=True).settings
    target = path or settings.rules_path
    if target is None:
        problems = _validate_defaults()
        label = "built-in rules"
    else:
        problems = validate_file(target)
        label = str(target)
    print_problems(problems)
    if problems:
        raise typer.Exit(1)
    if target is not None:
        warnings, errors = _routing_notes(settings, target)
        print_problems([*warnings, *errors])
        if errors:
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
    ones too, each with where it comes from and where its alerts go."""
    from bot.rules.stored import rule_origins

    context = app_context(ctx, reads_only=True)
    rules = rules_or_exit(context.settings, include_disabled=True, db=context.db)
    origins = rule_origins(context.settings, context.db)
    routing = routing_or_exit(context.settings, rules, posting=False)
    if as_json:
        print_json(
            [
                rule_json(rule) | {"origin": origins.get(rule.id, "")} | _routed_json(routing, rule)
                for rule in rules
            ]
        )
        return
    table = Table(box=box.SIMPLE)
    id_table_column(table, "id", (rule.id for rule in rules))
    for column in ("type", "on"):  # single words: a narrow terminal wraps the text columns
        table.add_column(column, no_wrap=True)
    for column in ("reads", "from", "name", "alerts to"):
        table.add_column(column)
    for rule in rules:
        on = "yes" if rule.enabled else "no"
        legs, to = ", ".join(rule.legs()), alerts_to(routing, rule)
        cells = (rule.id, rule.type, on, legs, origins.get(rule.id, ""), rule.title, to)
        table.add_row(*(escape(cell) for cell in cells))  # names are text, never markup
    print_table(table)


@rules_app.command("show")
def show_rule(
    ctx: typer.Context,
    rule_id: Annotated[str, typer.Argument(help="The rule's id (see `rules list`).")],
) -> None:
    """One rule as a TOML table (every field in force), where it comes from and where its
    alerts go as comments: the output pastes into a rules file as it is."""
    from bot.rules.stored import rule_origins, rule_toml

    context = app_context(ctx, reads_only=True)
    settings = context.settings
    rules = rules_or_exit(settings, include_disabled=True, db=context.db)
    routing = routing_or_exit(settings, rules, posting=False)
    rule = next((rule for rule in rules if rule.id == rule_id), None)
    if rule is None:
        fail(f"no rule {rule_id!r}; `rotation-bot rules list` shows them", 1)
    origin = rule_origins(settings, context.db).get(rule.id, "")
    text = f"# from: {origin}\n# alerts to: {alerts_to(routing, rule)}\n{rule_toml(rule)}"
    # Plain text, never wrapped: a TOML line cut in two would no longer parse.
    typer.echo(text, nl=False)


def alerts_to(routing: Routing, rule: Rule) -> str:
    """Where a rule's alerts go, for people: the channels and what decided them."""
    destinations, why = routing.explain(rule, ())
    if why == "default":
        return "the default channels"
    return f"{', '.join(destinations)} ({why})"


def _routed_json(routing: Routing, rule: Rule) -> dict[str, Any]:
    destinations, why = routing.explain(rule, ())
    return {"routed_to": list(destinations), "routed_by": why}


def _routing_notes(settings: Settings, path: Path) -> tuple[list[str], list[str]]:
    """A valid file's warnings (routes matching no rule) and errors (platforms not set up)."""
    from bot.rules.files import RulesFileError, load_routing, load_rules
    from bot.rules.routing import unmatched_routes, unroutable

    file_settings = settings.model_copy(update={"rules_path": path})
    # The file in force is parsed anyway: its parse cache is written for the next check.
    in_force = settings.rules_path is not None and settings.rules_path.resolve() == path.resolve()
    try:
        rules = load_rules(file_settings, include_disabled=True, cached=False, refresh=in_force)
        routing = load_routing(file_settings)
    except RulesFileError as error:
        return [], error.problems
    errors = unroutable(settings, routing.named(rules))
    return unmatched_routes(routing, rules), [f"{path}: {line}" for line in errors]


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

    stored = chat_rules(app_context(ctx, reads_only=True).db)
    text = export_toml(stored)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror or error}")
    console.print(f"wrote {len(stored)} chat rule(s) to {output}", markup=False, highlight=False)
