"""Rules made in chat, stored in the database, joined to the rules files' rules.

A chat rule is kept as the TOML of one `[[rules]]` table (`rule_toml`) and read back through
the same validation as a rules file (`read_entries` + `parse_entries`), so `rules export`
writes a file `rules validate` accepts. The rules in force are the defaults, overridden and
extended by ROTATION_RULES, then the chat rules: a chat rule never overrides a file rule
(chat refuses such an id; if a file adds one later, the file wins and the clash is logged).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.rules.files import (
    RulesFileError,
    default_entries,
    load_rules,
    parse_entries,
    read_entries,
    read_rules_text,
)
from signals.rules import Rule
from storage import chat_rules
from storage.db import Store

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

DEFAULTS, FILE, CHAT = "defaults", "file", "chat"
# The fields written first; the rest follow in the rule's own order.
_LEADING = ("id", "type", "name", "description", "enabled")


def rule_toml(rule: Rule) -> str:
    """One `[[rules]]` table for the rule: every field that is set, empty ones left out."""
    mapping = rule.to_mapping()
    keys = [k for k in _LEADING if k in mapping] + [k for k in mapping if k not in _LEADING]
    lines = [f"{key} = {toml_value(mapping[key])}" for key in keys if mapping[key] not in ("", [])]
    return "\n".join(["[[rules]]", *lines]) + "\n"


def toml_value(value: Any) -> str:
    """A TOML literal for the values rules hold: text, booleans, numbers, dates, lists."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)  # rules hold finite numbers only; repr is valid TOML for them
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    # JSON's string escapes are TOML's, except DEL, which TOML wants escaped too.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def parse_stored(stored: chat_rules.ChatRule) -> Rule:
    """A stored chat rule, validated as a rules file is; RulesFileError when it no longer is."""
    rules, problems = parse_entries(read_entries(stored.toml, f"<chat rule {stored.rule_id}>"))
    if problems:
        raise RulesFileError(problems)
    if len(rules) != 1 or rules[0].id != stored.rule_id:
        raise RulesFileError([f"<chat rule {stored.rule_id}>: holds no rule of that id"])
    return rules[0]


def chat_rules_of(db: Store) -> list[tuple[chat_rules.ChatRule, Rule]]:
    """Every valid chat rule with its record; an invalid one is logged and left out."""
    found = []
    for stored in chat_rules.list_rules(db):
        try:
            found.append((stored, parse_stored(stored)))
        except RulesFileError as error:  # e.g. a later version validates more strictly
            log.error("chat rule %s is invalid and not evaluated: %s", stored.rule_id, error)
    return found


def with_chat_rules(
    rules: Sequence[Rule], db: Store, *, include_disabled: bool = False
) -> list[Rule]:
    """`rules` (from the files) followed by the chat rules whose id they do not use."""
    taken = {rule.id for rule in rules}
    extra = []
    for _record, rule in chat_rules_of(db):
        if rule.id in taken:
            log.warning("chat rule %s is shadowed by a rules-file rule of that id", rule.id)
            continue
        extra.append(rule)
    return [rule for rule in [*rules, *extra] if include_disabled or rule.enabled]


def rules_in_force(settings: Settings, db: Store, *, include_disabled: bool = False) -> list[Rule]:
    """The defaults, ROTATION_RULES and the chat rules; RulesFileError if a rules file is bad."""
    files = load_rules(settings, include_disabled=True)
    return with_chat_rules(files, db, include_disabled=include_disabled)


def file_rule_ids(settings: Settings) -> dict[str, str]:
    """Where each rules-file rule comes from: `defaults` or `file` (ROTATION_RULES)."""
    origins = {_id(entry.mapping): DEFAULTS for entry in default_entries()}
    if settings.rules_path is not None:
        text = read_rules_text(settings.rules_path)
        origins |= {_id(e.mapping): FILE for e in read_entries(text, str(settings.rules_path))}
    return {rule_id: origin for rule_id, origin in origins.items() if rule_id}


def _id(mapping: Any) -> str:
    rule_id = mapping.get("id")
    return rule_id if isinstance(rule_id, str) else ""


def rule_origins(settings: Settings, db: Store) -> dict[str, str]:
    """Each rule id's origin as shown to people: `defaults`, `file` or `chat (<author>)`."""
    try:
        origins = file_rule_ids(settings)
    except RulesFileError:  # the command itself reports an invalid file
        origins = {}
    for stored in chat_rules.list_rules(db):
        origins.setdefault(stored.rule_id, f"{CHAT} ({stored.created_by})")
    return origins


def export_toml(stored: Iterable[chat_rules.ChatRule]) -> str:
    """The chat rules as one rules file, each table headed by who made and changed it."""
    parts = [
        "# Rules made in chat (rotation-bot rules export). A valid ROTATION_RULES file.\n",
    ]
    for record in stored:
        parts.append(
            f"\n# made by {record.created_by} at {record.created_at}; "
            f"last changed by {record.updated_by} at {record.updated_at}\n{record.toml}"
        )
    return "".join(parts)
