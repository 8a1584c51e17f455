"""`rules validate` of the file in force writes its parse cache (never reads it), so the first
check after it parses nothing; validating any other file leaves that cache alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from bot.config import Settings
from bot.rules.files import load_rules
from bot.rules.parse_cache import cache_key, read_cache, write_cache
from storage.db import open_db
from tests.rule_mix import generate_rules

Desk = tuple[Path, Path, Path]  # the database, the rules file, its cache

if not any(group.name == "rules" for group in app.registered_groups):
    _register_commands()


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    """A database, a rules file of 40 generated rules, and where the cache goes."""
    rules = tmp_path / "rules.toml"
    rules.write_text(generate_rules(40), encoding="utf-8")
    open_db(tmp_path / "bot.db").close()
    return tmp_path / "bot.db", rules, tmp_path / "bot.db.rules-cache"


def validate(db: Path, in_force: Path | None, *args: str) -> str:
    env = {"ROTATION_RULES": str(in_force)} if in_force else {}
    result = CliRunner().invoke(app, ["--db", str(db), "rules", "validate", *args], env=env)
    return f"{result.exit_code} {result.output}"


def test_validating_the_file_in_force_writes_what_a_check_reads(desk: Desk) -> None:
    db, rules, cache = desk
    assert validate(db, rules).startswith("0 ok:")
    kept = read_cache(cache, cache_key(rules.read_text(encoding="utf-8")))
    assert kept is not None and len(kept) > 40  # the defaults and the file's 40
    written = cache.stat().st_ino
    loaded = load_rules(Settings(db_path=db, rules_path=rules), include_disabled=True)
    assert loaded == kept and cache.stat().st_ino == written  # a hit: not rewritten
    fresh = load_rules(Settings(db_path=db, rules_path=rules), include_disabled=True, cached=False)
    assert [rule.fingerprint() for rule in loaded] == [rule.fingerprint() for rule in fresh]
    # Named by its path, or by another path to the same file: the same.
    cache.unlink()
    assert validate(db, rules, str(rules)).startswith("0 ok:") and cache.exists()
    cache.unlink()
    other_way = rules.parent / "." / rules.name
    assert validate(db, rules, str(other_way)).startswith("0 ok:") and cache.exists()


def test_validate_never_reads_the_cache(desk: Desk) -> None:
    db, rules, cache = desk
    key = cache_key(rules.read_text(encoding="utf-8"))
    validate(db, rules)
    write_cache(cache, key, load_rules(Settings(db_path=db, rules_path=rules))[:2])  # a lie
    assert validate(db, rules).startswith("0 ok:")
    assert len(read_cache(cache, key) or []) > 40  # parsed, and the lie replaced
    rules.write_text(rules.read_text(encoding="utf-8") + "confirm = 0\n", encoding="utf-8")
    write_cache(cache, cache_key(rules.read_text(encoding="utf-8")), [])  # even for its key
    out = validate(db, rules)
    assert out.startswith("1 ") and ": confirm: must be between 1 and 1000, got 0" in out


def test_another_file_or_an_invalid_one_leaves_the_cache_alone(desk: Desk) -> None:
    db, rules, cache = desk
    other = rules.with_name("other.toml")
    other.write_text(generate_rules(5, seed=3), encoding="utf-8")
    assert validate(db, rules, str(other)).startswith("0 ok:")
    assert validate(db, None, str(rules)).startswith("0 ok:")  # no file in force
    assert not cache.exists()
    validate(db, rules)
    written = cache.read_bytes()
    assert validate(db, rules, str(other)).startswith("0 ok:")
    assert cache.read_bytes() == written
    rules.write_text('[[rules]]\nid = "x"\ntype = "new_high"\n', encoding="utf-8")
    assert validate(db, rules).startswith("1 ")
    assert cache.read_bytes() == written  # for the old text: a check of the new one misses


def test_without_a_database_nothing_is_written(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(generate_rules(5), encoding="utf-8")
    assert validate(tmp_path / "none.db", rules).startswith("0 ok:")
    assert list(tmp_path.iterdir()) == [rules]
