"""mkdocs hook: the configuration and rules references, generated from the code at build time.

Nothing generated is committed, so the pages cannot drift from the code: a page holds a marker
line (`<!-- generated: settings -->`, `<!-- generated: rules -->`) that this hook replaces with
tables built from `bot.config.Settings` (defaults, bounds, choices) joined to the comments of
`.env.example`, and from `signals.rules.RULE_TYPES` (every type, every field, its default and
unit) with the shipped default rules as examples. A setting or rule field added to the code
appears on the next build; `tests/test_docs_site.py` checks both tables against the code.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import MISSING, fields
from datetime import date, time
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic.fields import FieldInfo

from bot.config import Settings
from signals.rules import RULE_TYPES, Rule

ROOT = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = ROOT / ".env.example"
DEFAULT_RULES = ROOT / "bot" / "default_rules.toml"
MARKERS = {"<!-- generated: settings -->": "settings", "<!-- generated: rules -->": "rules"}
_SECTION = re.compile(r"^# --- (.+?) -+$")
_VARIABLE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")

# What each rule field means; `{unit}` is the rule type's measure unit. A field missing here
# still gets its row (name, default), with its meaning left for the next edit of this table.
FIELD_MEANINGS: dict[str, str] = {
    "id": "Unique id (lower case letters, digits, `-` `_` `.`); a file rule with a default's id "
    "overrides it field by field",
    "name": "Title shown in alerts (the id when empty)",
    "description": "One sentence shown in the alert",
    "enabled": "`false` turns the rule off (it stays listed)",
    "severity": "`info`, `warning` or `critical` (the alert's colour)",
    "tags": "Labels that `[[routes]]` match on",
    "confirm": "Consecutive final bars the condition must hold before it fires",
    "hysteresis": "Band ({unit}) the measure must cross back beyond before the rule re-arms",
    "cooldown": "Sessions after a firing before the next one",
    "trigger": "`episode` (once per episode), `once` (ever) or `once_per_bar`",
    "emit_reversed": "Also alert when the condition stops holding",
    "intraday": "May fire on provisional (intraday) bars",
    "renotify_minutes": "Re-ping subscribers this often until acknowledged (unset: never)",
    "destinations": "`discord:<channel id>` / `slack:<channel id>`; overrides `[[routes]]`",
    "a": "First symbol (its return is compared with b's)",
    "b": "Second symbol",
    "window": "Return window: `ytd` `qtd` `mtd` `1m` `3m` `6m` `1y` `Nd` (N sessions) "
    "`since:YYYY-MM-DD`",
    "basis": "`total` (from Adj Close) or `price` (Close); new_high: `close`, `high`, `adj_close`",
    "min_sessions": "Sessions a ytd/qtd/mtd window must span before the rule may fire "
    "(at most 19 for mtd, 60 for qtd)",
    "direction": "`up`, `down` (or `either` where allowed)",
    "level": "Offset (pp) added to b's return before comparing",
    "symbol": "The symbol watched (`IWM`, `^RUT`)",
    "lookback": "Sessions to look back (new_high: unset means all-time)",
    "min_history": "Sessions of history needed before the rule may fire",
    "series": "A symbol or series id, or `A / B`, `A - B` of them (spaces around the operator)",
    "extreme": "`high` or `low`",
    "since": "Extreme since this date (give `since` or `years`, not both)",
    "chart_from": "Where the alert's chart starts (default: `since`); never changes firing",
    "years": "Extreme in at least this many years",
    "threshold_bps": "Spread (bps) at which the rule fires",
    "threshold_pct": "Rise (%) from the low at which the rule fires",
    "min_change_bps": "Smallest step (bps) that counts as a change",
    "long": "Long-maturity yield series (`DGS10`)",
    "short": "Short-maturity yield series (`DGS3MO`)",
    "mode": "`level` (long − short crosses `level_bps`) or `change` (moves `change_bps` over "
    "`sessions`)",
    "level_bps": "The level (bps) crossed in `level` mode",
    "change_bps": "The move (bps) in `change` mode",
    "sessions": "Sessions the move is measured over in `change` mode",
}


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Replace each marker line with its generated table."""
    builders = {"settings": settings_reference, "rules": rules_reference}
    for marker, name in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, builders[name]())
    return markdown


# --- configuration -----------------------------------------------------------------------


def env_example_notes(text: str | None = None) -> dict[str, tuple[str, str]]:
    """Each variable of `.env.example` -> (its section, the comment above it)."""
    lines = (text if text is not None else ENV_EXAMPLE.read_text(encoding="utf-8")).splitlines()
    notes: dict[str, tuple[str, str]] = {}
    section, comment, last = "General", [], ""
    for line in lines:
        if heading := _SECTION.match(line):
            section, comment, last = heading.group(1), [], ""
        elif line.startswith("#"):
            comment.append(line.lstrip("# ").rstrip())
        elif variable := _VARIABLE.match(line):
            # Variables listed together under one comment share it.
            last = " ".join(comment) or last
            notes[variable.group(1)] = (section, last)
            comment = []
        else:
            comment, last = [], ""
    return notes


def settings_reference() -> str:
    """One table per `.env.example` section: variable, default, allowed values, meaning."""
    notes = env_example_notes()
    sections: dict[str, list[str]] = {}
    for name, field in Settings.model_fields.items():
        variable = str(field.validation_alias or name).upper()
        section, note = notes.get(variable, ("Not in .env.example", ""))
        row = f"| `{variable}` | {_setting_default(field)} | {_allowed(field)} | {_cell(note)} |"
        sections.setdefault(section, []).append(row)
    parts = []
    for section, rows in sections.items():
        head = "| variable | default | allowed | meaning |\n|---|---|---|---|"
        parts.append(f"### {section}\n\n{head}\n" + "\n".join(rows))
    return "\n\n".join(parts)


def _setting_default(field: FieldInfo) -> str:
    value = field.default
    if value is None or value == ():
        return "unset"
    if "secret" in str(field.annotation).lower():
        return "unset (secret)"
    return f"`{_plain(value)}`"


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        inner = [_plain(v) for v in value]
        return "; ".join(inner) if any(isinstance(v, tuple) for v in value) else ",".join(inner)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _allowed(field: FieldInfo) -> str:
    choices = _choices(field.annotation)
    if choices:
        return " ".join(f"`{choice}`" for choice in choices)
    bounds = []
    for item in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, attr, None) is not None:
                bounds.append(f"{sign} {_plain(getattr(item, attr))}")
    kind = _kind(field.annotation)
    return f"{kind}, {' '.join(bounds)}" if bounds else kind


def _choices(annotation: Any) -> tuple[str, ...]:
    if str(get_origin(annotation)) == "typing.Literal":
        return tuple(str(arg) for arg in get_args(annotation))
    return ()


def _kind(annotation: Any) -> str:
    text = str(annotation)
    for needle, kind in (
        ("SecretStr", "secret text"),
        ("tuple[tuple", "groups"),
        ("tuple", "comma-separated list"),
        ("bool", "true/false"),
        ("int", "whole number"),
        ("float", "number"),
        ("datetime.time", "HH:MM"),
        ("datetime.date", "YYYY-MM-DD"),
        ("Path", "path or URL"),
    ):
        if needle in text:
            return kind
    return "text"


# --- rules ---------------------------------------------------------------------------------


def rules_reference() -> str:
    """Per rule type: what it does, its fields (default, unit, meaning), a shipped example."""
    examples = _default_examples()
    parts = [_common_fields()]
    for kind, cls in RULE_TYPES.items():
        parts.append(_type_section(kind, cls, examples.get(kind)))
    return "\n\n".join(parts)


def _common_fields() -> str:
    rows = [_field_row(item, Rule) for item in fields(Rule)]
    return "## Options every rule has\n\n" + _field_table(rows)


def _type_section(kind: str, cls: type[Rule], example: dict[str, Any] | None) -> str:
    own = {item.name for item in fields(Rule)}
    overridden = [f for f in fields(cls) if f.name in own and f.default != _rule_default(f.name)]
    rows = [_field_row(f, cls) for f in fields(cls) if f.name not in own]
    rows += [_field_row(f, cls, note="(default differs)") for f in overridden]
    unit = f" The measure is in **{cls.unit}**." if cls.unit else ""
    doc = " ".join((cls.__doc__ or "").split())
    section = f"## `{kind}`\n\n{doc}{unit}\n\n" + _field_table(rows)
    return section + "\n\nExample:\n\n```toml\n" + _example_toml(kind, cls, example) + "\n```"


def _rule_default(name: str) -> Any:
    return next(f.default for f in fields(Rule) if f.name == name)


def _field_table(rows: list[str]) -> str:
    return "| field | default | meaning |\n|---|---|---|\n" + "\n".join(rows)


def _field_row(item: Any, cls: type[Rule], note: str = "") -> str:
    if item.default is MISSING and item.default_factory is MISSING:
        default = "**required**"
    elif item.default is None:
        default = "unset"
    else:
        default = f"`{_toml_value(item.default)}`"
    meaning = FIELD_MEANINGS.get(item.name, "").replace("{unit}", cls.unit or "measure units")
    return f"| `{item.name}` | {default} | {_cell(' '.join(filter(None, (meaning, note))))} |"


def _default_examples() -> dict[str, dict[str, Any]]:
    rules = tomllib.loads(DEFAULT_RULES.read_text(encoding="utf-8"))["rules"]
    examples: dict[str, dict[str, Any]] = {}
    for rule in rules:
        examples.setdefault(rule["type"], rule)
    return examples


def _example_toml(kind: str, cls: type[Rule], example: dict[str, Any] | None) -> str:
    if example is None:  # a type without a shipped rule: its required fields
        required = [f.name for f in fields(cls) if f.default is MISSING and f.name != "id"]
        example = {"id": f"my-{kind.replace('_', '-')}", "type": kind}
        example.update({name: "..." for name in required})
    body = "\n".join(f"{key} = {_toml_value(value)}" for key, value in example.items())
    return f"[[rules]]\n{body}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, date):
        return value.isoformat()
    return _plain(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
