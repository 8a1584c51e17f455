"""Rules files: the defaults shipped with the package plus the user's `ROTATION_RULES` file.

A file is TOML with one `[[rules]]` table per rule. Validation reports every problem with
its file and line (`path:12: rule x: confirm: must be ...`). A user rule whose id matches a
default overrides it: without `type` (or with the same type) it changes only the fields it
sets; with another type it replaces the default entirely.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.rules import parse_cache
from bot.rules.quick_read import toml_document, toml_without_layout
from bot.rules.routing import ROUTING_TABLES, Routing, destination_problems, parse_routing
from bot.rules.toml_layout import MAX_DEPTH, Element, Layout, scan
from signals.names import split_expression
from signals.rule_fields import RuleError
from signals.rules import Curve, RateChange, Rule, parse_rule

if TYPE_CHECKING:
    from bot.config import Settings

DEFAULT_RULES = "default_rules.toml"
_TOML_LINE = re.compile(r"line (\d+)")
_LONG_NUMBER = re.compile(r"[0-9_]{1000,}")
# A desk's 10,000 rules take about 2 MiB; anything this big is the wrong file.
MAX_BYTES = 16 * 1024 * 1024


class RulesFileError(ValueError):
    """A rules file is invalid; `problems` holds one `path:line: message` per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class RuleEntry:
    """One `[[rules]]` table as written, with where it came from."""

    mapping: Mapping[str, Any]
    source: str
    line: int  # the line of its `[[rules]]` header
    field_lines: Mapping[str, int]


def default_rules_text() -> str:
    """The TOML of the rules shipped with the package."""
    return resources.files("bot").joinpath(DEFAULT_RULES).read_text(encoding="utf-8")


def read_entries(text: str, source: str) -> list[RuleEntry]:
    """The `[[rules]]` tables of a TOML text; RulesFileError on syntax or shape errors."""
    layout, data = _scanned(text, source)
    problems = _shape_problems(data, layout, source)
    if problems:
        raise RulesFileError(problems)
    elements = layout.rules
    return [
        RuleEntry(table, source, *_where(elements, i)) for i, table in enumerate(data["rules"])
    ] if "rules" in data else []  # fmt: skip


@functools.lru_cache(maxsize=2)
def _scanned(text: str, source: str) -> tuple[Layout, dict[str, Any]]:
    # Kept for the routing read that follows the rules read of the same text (one parse).
    layout = scan(text)
    if layout.too_deep is not None:
        raise RulesFileError(
            [f"{source}:{layout.too_deep}: nested more than {MAX_DEPTH} levels deep; "
             "a rules file needs [[rules]] tables of key = value lines"]
        )  # fmt: skip
    return layout, _parse_toml(text, source)


def _parse_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return toml_document(text)
    except tomllib.TOMLDecodeError as error:
        match = _TOML_LINE.search(str(error))
        line = match[1] if match else str(text.count("\n") + 1)  # "at end of document"
        raise RulesFileError([f"{source}:{line}: TOML syntax error: {error}"]) from None
    except ValueError as error:  # an integer of thousands of digits, which int() refuses
        match = _LONG_NUMBER.search(text)
        line = text.count("\n", 0, match.start()) + 1 if match else 1
        raise RulesFileError([f"{source}:{line}: unreadable value: {error}"]) from None
    except RecursionError:  # the layout scan refuses deep nesting first; a safety net
        raise RulesFileError([f"{source}:1: nested too deeply to read"]) from None


def _shape_problems(data: dict[str, Any], layout: Layout, source: str) -> list[str]:
    """Top-level keys other than `rules` and the routing tables, and `rules` elements not tables."""
    problems = [
        f"{source}:{layout.top_keys.get(key, 1)}: unknown top-level key {key!r}; "
        "use [[rules]], [[routes]] and [digest] tables"
        for key in sorted(set(data) - {"rules", *ROUTING_TABLES})
    ]
    tables = data.get("rules", [])
    if not isinstance(tables, list):
        line = layout.top_keys.get("rules", 1)
        return [*problems, f"{source}:{line}: 'rules' must be an array of tables: [[rules]]"]
    for index, item in enumerate(tables):
        if not isinstance(item, dict):
            line = _where(layout.rules, index)[0]
            problems.append(
                f"{source}:{line}: rules[{index}] must be a table of key = value lines "
                f"(write [[rules]]), got {type(item).__name__} {_short(item)}"
            )
    return problems


def _where(elements: list[Element], index: int) -> tuple[int, dict[str, int]]:
    """The line and field lines of the index-th rules element (line 1 if the scan missed it)."""
    if index < len(elements):
        return elements[index].line, elements[index].fields
    return 1, {}


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_entries(entries: Iterable[RuleEntry]) -> tuple[list[Rule], list[str]]:
    """Validate entries into rules; every problem comes back as `source:line: message`."""
    rules: list[Rule] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for entry in entries:
        rule_id = entry.mapping.get("id")
        if isinstance(rule_id, str) and rule_id in seen:
            problems.append(
                f"{entry.source}:{entry.line}: rule {rule_id}: duplicate id "
                f"(first defined on line {seen[rule_id]})"
            )
            continue
        if isinstance(rule_id, str):
            seen[rule_id] = entry.line
        try:
            rules.append(parse_rule(entry.mapping))
        except RuleError as error:
            problems.extend(_located(entry, error))
            continue
        problems.extend(_destination_lines(entry, rules[-1]))
    return rules, problems


def _destination_lines(entry: RuleEntry, rule: Rule) -> list[str]:
    """A rule's `destinations` checked against the platforms, as `source:line:` problems."""
    line = entry.field_lines.get("destinations", entry.line)
    found = destination_problems(rule.destinations)
    return [f"{entry.source}:{line}: rule {rule.id}: destinations: {p}" for p in found]


def _located(entry: RuleEntry, error: RuleError) -> list[str]:
    label = f"rule {error.rule_id}: " if error.rule_id else ""
    return [
        f"{entry.source}:{entry.field_lines.get(name, entry.line)}: {label}{name}: {message}"
        for name, message in error.problems
    ]


def validate_file(path: Path) -> list[str]:
    """Every problem in a rules file (empty when it is valid), each with its line."""
    try:
        problems = parse_entries(_user_entries(path, _by_id(default_entries())))[1]
        return problems + _routing_of(path)[1]
    except RulesFileError as error:
        return error.problems


def load_routing(settings: Settings) -> Routing:
    """The user file's `[[routes]]` and `[digest]` (none without a file); RulesFileError."""
    if settings.rules_path is None:
        return Routing()
    routing, problems = _routing_of(settings.rules_path)
    if problems:
        raise RulesFileError(problems)
    return routing


def _routing_of(path: Path) -> tuple[Routing, list[str]]:
    text, source = read_rules_text(path), str(path)
    data = toml_without_layout(text)
    if data is not None and not set(ROUTING_TABLES) & data.keys():
        if not _shape_problems(data, Layout(), source):  # no table to place: no scan
            return parse_routing(data, {}, source)
    read_entries(text, source)  # syntax and shape first, as for the rules
    layout, data = _scanned(text, source)
    return parse_routing(data, layout.tables, source)


def default_entries() -> list[RuleEntry]:
    """The `[[rules]]` tables shipped with the package."""
    return read_entries(default_rules_text(), f"<package>/{DEFAULT_RULES}")


def _by_id(entries: Iterable[RuleEntry]) -> dict[Any, RuleEntry]:
    return {entry.mapping.get("id"): entry for entry in entries}


def _user_entries(path: Path, defaults: Mapping[Any, RuleEntry]) -> list[RuleEntry]:
    """The user file's entries, merged over the defaults they override; RulesFileError if unread."""
    return _merged(read_entries(read_rules_text(path), str(path)), defaults)


def read_rules_text(path: Path) -> str:
    """A rules file's text (a UTF-8 BOM dropped); RulesFileError if unreadable or not UTF-8."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise RulesFileError([f"{path}: cannot read: {error.strerror or error}"]) from None
    if len(data) > MAX_BYTES:
        raise RulesFileError([f"{path}:1: larger than {MAX_BYTES // 1024} KiB; not a rules file"])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise RulesFileError(
            [f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x}); save it as UTF-8"]
        ) from None


def _merged(entries: list[RuleEntry], defaults: Mapping[Any, RuleEntry]) -> list[RuleEntry]:
    """User entries with a default's fields filled in where they override it by id."""
    out = []
    for entry in entries:
        rule_id = entry.mapping.get("id")
        base = defaults.get(rule_id) if isinstance(rule_id, str) else None
        kind = entry.mapping.get("type")
        if base is not None and kind in (None, base.mapping.get("type")):
            merged = {**base.mapping, **entry.mapping}
            entry = RuleEntry(merged, entry.source, entry.line, entry.field_lines)
        out.append(entry)
    return out


def load_rules(
    settings: Settings,
    *,
    include_disabled: bool = False,
    cached: bool = True,
    refresh: bool = False,
) -> list[Rule]:
    """The defaults, overridden and extended by the user's file; RulesFileError if invalid.

    A valid user file's rules come from the parse cache beside the database when it matches
    (`cached=False`: parsed, the cache neither read nor written; `refresh=True`: parsed, never
    read from the cache but written to it, as `rules validate` does for the file in force).
    """
    path = settings.rules_path
    if path is None:
        rules = _all_rules(None, "")
    else:
        text = read_rules_text(path)
        where = parse_cache.cache_path(settings.db_path) if cached or refresh else None
        parse = functools.partial(_all_rules, path, text)
        rules = parse_cache.cached_rules(where, text, parse, read=not refresh)
    return [rule for rule in rules if include_disabled or rule.enabled]


def _all_rules(path: Path | None, text: str) -> list[Rule]:
    """Every rule, disabled too: the defaults, the user file's `text` (from `path`) over them."""
    defaults = default_entries()
    by_id = {rule.id: rule for rule in _parsed(defaults)}
    if path is not None:
        # Parsed on their own too, so a duplicate id in the user file is reported, not merged.
        for rule in _user_rules(path, text, _by_id(defaults)):
            by_id[rule.id] = rule
    return list(by_id.values())


def _user_rules(path: Path, text: str, defaults: Mapping[Any, RuleEntry]) -> list[Rule]:
    """The user file's rules: read without its layout when that finds no problem, else read
    again with it, so that every problem is reported as `rules validate` reports it."""
    data = toml_without_layout(text)
    if data is not None and not _shape_problems(data, Layout(), str(path)):
        tables = data.get("rules", [])
        rules, problems = parse_entries(_merged(_unplaced(tables, str(path)), defaults))
        if not problems:
            return rules
    return _parsed(_merged(read_entries(text, str(path)), defaults))


def _unplaced(tables: list[dict[str, Any]], source: str) -> list[RuleEntry]:
    # Line 0: never shown, a problem sends the file to the full read.
    return [RuleEntry(table, source, 0, {}) for table in tables]


def _parsed(entries: Iterable[RuleEntry]) -> list[Rule]:
    rules, problems = parse_entries(entries)
    if problems:
        raise RulesFileError(problems)
    return rules


def rule_series(rules: Iterable[Rule]) -> list[str]:
    """Stored series ids the rules read (FRED rates, `pe:` snapshots), sorted."""
    found = set()
    for rule in rules:
        for leaf in _leaves(rule):
            if ":" in leaf or (isinstance(rule, RateChange | Curve) and not leaf.startswith("^")):
                found.add(leaf)
    return sorted(found)


def rule_symbols(rules: Iterable[Rule]) -> list[str]:
    """Price symbols the rules read (to fetch from Yahoo), sorted; series ids excluded."""
    rules = list(rules)
    series = set(rule_series(rules))
    return sorted({leaf for rule in rules for leaf in _leaves(rule)} - series)


def _leaves(rule: Rule) -> list[str]:
    return [leaf for leg in rule.legs() for leaf in split_expression(leg)]
