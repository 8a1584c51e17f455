"""A check reads a valid rules file without its layout scan (`bot.rules.quick_read`); any
file with a problem is read again with it, so `check` reports exactly what `rules validate`
does, each problem on its line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from bot.config import load_settings
from bot.rules import files
from bot.rules.files import RulesFileError, load_routing, load_rules, validate_file
from bot.rules.quick_read import QUICK_DEPTH, toml_without_layout
from bot.rules.routing import Routing
from bot.rules.toml_layout import MAX_DEPTH
from signals.rules import parse_rule
from tests.rule_mix import generate_rules

if not any(group.name == "rules" for group in app.registered_groups):
    _register_commands()

RULE = '[[rules]]\nid = "x"\ntype = "new_high"\nsymbol = "QQQ"\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def loaded(path: Path) -> list[str] | list[tuple[str, str]]:
    """The problems `load_rules` raises, or the loaded rules' ids and fingerprints."""
    try:
        rules = load_rules(load_settings(None, rules_path=path), include_disabled=True)
    except RulesFileError as error:
        return error.problems
    return [(rule.id, rule.fingerprint()) for rule in rules]


def test_a_valid_file_gives_the_rules_of_the_full_read(tmp_path: Path) -> None:
    text = generate_rules(300)
    path = write(tmp_path, text)
    assert validate_file(path) == []
    users = [parse_rule(table) for table in tomllib.loads(text)["rules"]]
    found = dict(loaded(path))
    assert [(rule.id, found[rule.id]) for rule in users] == [
        (rule.id, rule.fingerprint()) for rule in users
    ]


def test_a_valid_file_is_not_scanned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The saving this module exists for: a valid file never reaches the layout scan.
    def refuse(text: str) -> None:
        raise AssertionError("scanned")

    monkeypatch.setattr(files, "scan", refuse)
    two = RULE + '\n[[rules]]\nid = "y"\ntype = "new_high"\nsymbol = "SPY"\n'
    assert {"x", "y"} <= set(dict(loaded(write(tmp_path, two))))  # type: ignore[arg-type]


DEEP = [
    "x = " + "[" * 1000 + "]" * 1000,
    "x = " + "{a = " * 500 + "1" + "}" * 500,
    "a" + ".a" * 100_000 + " = 1",
    "[" + "a." * 50 + "a]",
    RULE + "tags = " + "[" * 30 + "]" * 30,
    RULE + "[digest]\nx = " + "[" * 30 + "]" * 30,  # routing tables too: the full read refuses
    RULE + "[[routes]]\nx = " + "{a = " * 25 + "1" + "}" * 25,
    RULE + "tags = " + "[" * 21 + "]" * 21,  # just past MAX_DEPTH
]


@pytest.mark.parametrize("text", DEEP)
def test_deep_nesting_is_refused_as_validate_refuses_it(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    line = text.count("\n") + 1
    (problem,) = loaded(path)
    assert problem.startswith(f"{path}:{line}: nested more than 20 levels deep")


@pytest.mark.parametrize("depth", [QUICK_DEPTH - 2, QUICK_DEPTH, QUICK_DEPTH + 1, 19])
def test_nesting_below_the_scans_limit_reads_alike(tmp_path: Path, depth: int) -> None:
    # Deeper than the quick read takes, not deep enough for the scan to refuse: the full
    # read answers (a rules file never nests this deep, so it is a problem either way).
    path = write(tmp_path, RULE + "tags = " + "[" * depth + "]" * depth)
    assert loaded(path) == validate_file(path)
    # In a routing table the rules read has nothing to say: the rules load either way.
    routed = write(tmp_path, RULE + "[digest]\nx = " + "[" * depth + "]" * depth)
    assert "x" in dict(loaded(routed))  # type: ignore[arg-type]


def test_the_depth_limit_counts_containers() -> None:
    assert toml_without_layout("x = " + "[" * QUICK_DEPTH + "]" * QUICK_DEPTH) is not None
    assert toml_without_layout("x = " + "[" * (QUICK_DEPTH + 1) + "]" * (QUICK_DEPTH + 1)) is None
    assert toml_without_layout("x = [") is None
    assert toml_without_layout("x = " + "[" * 2000 + "]" * 2000) is None  # RecursionError


def test_long_dotted_keys_never_reach_tomllib_first() -> None:
    # tomllib takes time quadratic in a key's parts (minutes for 100,000): the scan refuses
    # such a key first, so a line with MAX_DEPTH dots goes to the full read unparsed.
    assert toml_without_layout("a.b.c = 1") == {"a": {"b": {"c": 1}}}
    assert toml_without_layout("a" + ".a" * MAX_DEPTH + " = 1") is None
    # Counted on any line, a string's too (the full read then answers: only slower).
    assert toml_without_layout('x = "' + "." * (MAX_DEPTH - 1) + '"') is not None
    assert toml_without_layout('x = "' + "." * MAX_DEPTH + '"') is None


PIECES = st.sampled_from(
    [
        "[[rules]]\n", "[rules]\n", "[[rules.x]]\n", 'id = "a"\n', 'id = "b"\n', "id = 1\n",
        'type = "curve"\n', 'type = "new_high"\n', 'symbol = "Q"\n', "confirm = nan\n",
        "confirm = 2\n", "hysteresis = inf\n", 'description = """\n', '"""\n', "'''\n",
        "x = [\n", "]\n", "y = {a = 1}\n", "rules = [", '{id = "b", type = "new_high", '
        'symbol = "Q"}, ', "1, ", '"s", ', "]\n", "# c\n", "=\n", '"\n', "a.b.c = 1\n",
        "[[\n", "\\\n", "1e309\n", "since = 2024-01-01\n", "tags = [1, inf]\n",
        "tags = " + "[" * 12 + "]" * 12 + "\n", "lookback = 300\n", 'id = "iwm-new-high"\n',
    ]
)  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(PIECES, max_size=25))
def test_a_check_reports_what_validate_reports(tmp_path: Path, pieces: list[str]) -> None:
    path = write(tmp_path, "".join(pieces))
    problems = validate_file(path)
    found = loaded(path)
    if problems:
        assert found == problems
    else:
        assert found and all(isinstance(item, tuple) for item in found)


def test_check_prints_the_lines_validate_prints(tmp_path: Path) -> None:
    text = RULE + "confirm = 0\n\n" + RULE.replace('"x"', '"y"') + 'colour = "red"\n' + RULE
    path = write(tmp_path, text)
    expected = validate_file(path)
    assert [line.split(": ")[0] for line in expected] == [f"{path}:5", f"{path}:11", f"{path}:12"]
    result = CliRunner().invoke(
        app, ["--db", str(tmp_path / "r.db"), "check"], env={"ROTATION_RULES": str(path)}
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == expected


ROUTES = '[[routes]]\ntags = ["t"]\ndestinations = ["discord:123"]\n'


def test_routing_of_a_file_without_routing_tables_needs_no_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, RULE)
    expected = load_routing(load_settings(None, rules_path=path))
    assert expected == Routing(digest=expected.digest) and not expected.routes
    files._scanned.cache_clear()

    def refuse(text: str) -> None:
        raise AssertionError("scanned")

    monkeypatch.setattr(files, "scan", refuse)
    assert load_routing(load_settings(None, rules_path=path)) == expected


@pytest.mark.parametrize(
    "text",
    [
        RULE + ROUTES,
        RULE + ROUTES + "colour = 1\n",
        RULE + '[digest]\ndestinations = ["nowhere"]\n',
        "digest = 3\n" + RULE,
        RULE + "[digest]\nx = " + "[" * 25 + "]" * 25,
        "routes = [1]\n" + RULE,
    ],
)
def test_routing_problems_keep_their_lines(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    problems = validate_file(path)
    try:
        routing = load_routing(load_settings(None, rules_path=path))
    except RulesFileError as error:
        assert error.problems == problems and problems
    else:
        assert problems == [] and routing.routes  # the valid one: placed on its line
        assert routing.routes[0].where == f"{path}:5"
