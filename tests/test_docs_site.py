"""The generated references agree with the code: every setting, every rule type and field."""

from __future__ import annotations

import importlib.util
from dataclasses import fields
from types import ModuleType

from bot.config import Settings
from signals.rules import RULE_TYPES, Rule
from tests.conftest import PROJECT_ROOT


def _hook() -> ModuleType:
    path = PROJECT_ROOT / "docs_hooks" / "reference.py"
    spec = importlib.util.spec_from_file_location("docs_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOK = _hook()


def test_every_setting_is_in_the_configuration_reference_with_its_default() -> None:
    page = HOOK.settings_reference()
    for name, field in Settings.model_fields.items():
        variable = str(field.validation_alias or name)
        row = next(line for line in page.splitlines() if line.startswith(f"| `{variable}` |"))
        assert HOOK._setting_default(field) in row
    assert "Not in .env.example" not in page


def test_every_env_example_variable_is_a_setting_with_a_meaning() -> None:
    notes = HOOK.env_example_notes()
    variables = {str(field.validation_alias) for field in Settings.model_fields.values()}
    assert set(notes) == variables
    assert [name for name, (_, meaning) in notes.items() if not meaning] == []


def test_env_example_comments_attach_to_the_variable_below_them() -> None:
    text = "# --- Storage ---\n# the file\nA=1\nB=2\n\n# other\nC=\n"
    assert HOOK.env_example_notes(text) == {
        "A": ("Storage", "the file"),
        "B": ("Storage", "the file"),
        "C": ("Storage", "other"),
    }


def test_every_rule_type_and_field_is_in_the_rules_reference() -> None:
    page = HOOK.rules_reference()
    own = {item.name for item in fields(Rule)}
    for kind, cls in RULE_TYPES.items():
        section = page[page.index(f"## `{kind}`") :]
        section = section[: section.index("```toml")]
        for item in fields(cls):
            assert item.name in own or f"| `{item.name}` |" in section, (kind, item.name)


def test_every_rule_field_has_a_meaning() -> None:
    # A new field needs one line in docs_hooks/reference.py FIELD_MEANINGS.
    names = {item.name for cls in RULE_TYPES.values() for item in fields(cls)}
    assert sorted(names - set(HOOK.FIELD_MEANINGS)) == []


def test_the_rule_examples_are_valid_rules() -> None:
    import tomllib

    from signals.rules import parse_rule

    page = HOOK.rules_reference()
    for block in page.split("```toml\n")[1:]:
        table = tomllib.loads(block[: block.index("```")])["rules"][0]
        if "..." not in table.values():
            parse_rule(table)


def test_the_markers_are_replaced() -> None:
    page = "intro\n<!-- generated: settings -->\n"
    assert "ROTATION_DB" in HOOK.on_page_markdown(page)
