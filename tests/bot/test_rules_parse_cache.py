"""The rules file's parse cache: hit on the same file, missed on one changed byte, never
trusted when corrupt, and an invalid file reported exactly as without a cache."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import Settings
from bot.rules.files import RulesFileError, load_rules, validate_file
from bot.rules.parse_cache import cache_key, cache_path, read_cache, write_cache
from storage.db import open_db
from tests.rule_mix import generate_rules


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Settings, Path]:
    """Settings with 60 generated rules in a file, and where their cache goes."""
    rules = tmp_path / "rules.toml"
    rules.write_text(generate_rules(60), encoding="utf-8")
    open_db(tmp_path / "bot.db").close()
    settings = Settings(db_path=tmp_path / "bot.db", rules_path=rules)
    return settings, tmp_path / "bot.db.rules-cache"


def inode(path: Path) -> int:
    return path.stat().st_ino  # a rewrite replaces the file: a new inode


def test_an_unchanged_file_is_read_from_the_cache(setup: tuple[Settings, Path]) -> None:
    settings, cache = setup
    first = load_rules(settings, include_disabled=True)
    written = inode(cache)
    assert load_rules(settings, include_disabled=True) == first
    assert inode(cache) == written
    assert load_rules(settings) == [rule for rule in first if rule.enabled]


def test_the_cache_answers_what_it_holds_for_its_key(setup: tuple[Settings, Path]) -> None:
    settings, cache = setup
    assert settings.rules_path is not None
    rules = load_rules(settings, include_disabled=True)
    key = cache_key(settings.rules_path.read_text(encoding="utf-8"))
    write_cache(cache, key, rules[:3])  # proves a hit parses nothing: the file has 60 rules
    assert load_rules(settings, include_disabled=True) == rules[:3]


def test_one_changed_byte_misses_and_rebuilds(setup: tuple[Settings, Path]) -> None:
    settings, cache = setup
    assert settings.rules_path is not None
    load_rules(settings)
    text = settings.rules_path.read_text(encoding="utf-8")
    at = text.index("level = ") + len("level = ")
    digit = "1" if text[at] != "1" else "2"
    settings.rules_path.write_text(text[:at] + digit + text[at + 1 :], encoding="utf-8")
    before = inode(cache)
    changed = load_rules(settings, include_disabled=True)
    assert inode(cache) != before
    fresh = load_rules(Settings(db_path="postgresql://h/db", rules_path=settings.rules_path))
    assert [rule for rule in changed if rule.enabled] == fresh  # a URL: no cache at all


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # one flipped bit in the payload
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: b"",  # empty
        lambda data: b"garbage\n" * 40,  # not a cache
    ],
    ids=["flipped bit", "truncated", "empty", "garbage"],
)
def test_a_corrupt_cache_is_logged_once_ignored_and_rebuilt(
    setup: tuple[Settings, Path], damage, caplog: pytest.LogCaptureFixture
) -> None:
    settings, cache = setup
    expected = load_rules(settings)
    cache.write_bytes(damage(cache.read_bytes()))
    with caplog.at_level(logging.WARNING, logger="bot.rules.parse_cache"):
        assert load_rules(settings) == expected
        cache.write_bytes(damage(cache.read_bytes()))
        assert load_rules(settings) == expected
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(cache) in warnings[0], warnings
    assert read_cache(cache, cache_key(settings.rules_path.read_text(encoding="utf-8")))


def test_an_unusable_cache_path_is_logged_and_the_rules_still_load(
    setup: tuple[Settings, Path], caplog: pytest.LogCaptureFixture
) -> None:
    settings, cache = setup
    cache.mkdir()  # neither readable nor replaceable as a file
    with caplog.at_level(logging.WARNING, logger="bot.rules.parse_cache"):
        assert len(load_rules(settings, include_disabled=True)) >= 60
    assert any("not written" in r.getMessage() for r in caplog.records)
    assert [p.name for p in cache.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_an_invalid_file_is_reported_as_without_a_cache_and_never_cached(
    setup: tuple[Settings, Path],
) -> None:
    settings, cache = setup
    assert settings.rules_path is not None
    load_rules(settings)  # a valid cache of the file before the mistake
    text = settings.rules_path.read_text(encoding="utf-8")
    broken = text.replace("lookback = ", "lookback = -", 1)
    settings.rules_path.write_text(broken, encoding="utf-8")
    expected = validate_file(settings.rules_path)
    assert expected and ":" in expected[0]
    for _ in range(2):
        with pytest.raises(RulesFileError) as raised:
            load_rules(settings)
        assert raised.value.problems == expected
    key = cache_key(broken)
    assert read_cache(cache, key) is None


def test_a_cache_is_kept_only_beside_an_existing_database_file(tmp_path: Path) -> None:
    assert cache_path("postgresql://user@host/db") is None
    assert cache_path(tmp_path / "none.db") is None  # `rules list` before any database
    open_db(tmp_path / "bot.db").close()
    assert cache_path(tmp_path / "bot.db") == tmp_path / "bot.db.rules-cache"


def test_rules_validate_neither_reads_nor_writes_the_cache(
    setup: tuple[Settings, Path],
) -> None:
    from typer.testing import CliRunner

    from bot.cli import _register_commands, app

    settings, cache = setup
    _register_commands()
    args = ["--db", str(settings.db_path), "rules", "validate", str(settings.rules_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert not cache.exists()
