"""Issue 9 item 7: a malformed rules file gets `file:line:` lines and exit 1, never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from bot.config import load_settings
from bot.rules.files import MAX_BYTES, load_rules, validate_file

if not any(group.name == "rules" for group in app.registered_groups):
    _register_commands()

RULE = '[[rules]]\nid = "x"\ntype = "new_high"\nsymbol = "QQQ"\n'


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "rules.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_rules_array_of_numbers_or_strings(tmp_path: Path) -> None:
    path = write(tmp_path, "rules = [1, 2]\n")
    assert validate_file(path) == [
        f"{path}:1: rules[0] must be a table of key = value lines (write [[rules]]), got int 1",
        f"{path}:1: rules[1] must be a table of key = value lines (write [[rules]]), got int 2",
    ]
    path = write(tmp_path, '# mine\nrules = [\n  "iwm",\n  "spy",\n]\n')
    assert [line.split(": ")[0] for line in validate_file(path)] == [f"{path}:3", f"{path}:4"]


def test_non_utf8_bytes_name_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, RULE.encode() + b'name = "caf\xe9"\n')
    assert validate_file(path) == [f"{path}:5: not UTF-8 text (byte 0xe9); save it as UTF-8"]


def test_a_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbf" + RULE.encode())
    assert validate_file(path) == []
    assert "x" in {rule.id for rule in load_rules(load_settings(None, rules_path=path))}


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "[" * 1000 + "]" * 1000,
        "x = " + "{a = " * 500 + "1" + "}" * 500,
        "a" + ".a" * 100_000 + " = 1",
        "[" + "a." * 50 + "a]",
        RULE + "tags = " + "[" * 30 + "]" * 30,
    ],
    ids=["arrays", "inline-tables", "dotted-keys", "header", "inside-a-rule"],
)
def test_deep_nesting_is_refused_with_its_line(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    (problem,) = validate_file(path)
    line = text.count("\n") + 1
    assert problem.startswith(f"{path}:{line}: nested more than 20 levels deep")


@pytest.mark.parametrize("value", ["inf", "-inf", "+inf", "nan", "-nan", "1e309", "-1e309"])
def test_non_finite_numbers_are_refused_with_the_fields_line(tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"{RULE}confirm = 2\nhysteresis = {value}\n")
    (problem,) = validate_file(path)
    assert problem.startswith(f"{path}:6: rule x: hysteresis: must be a finite number, got ")


def test_huge_integers_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"{RULE}hysteresis = 1{'0' * 400}\n")
    assert validate_file(path) == [
        f"{path}:5: rule x: hysteresis: must be a finite number, got an integer too large for one"
    ]
    path = write(tmp_path, f"{RULE}hysteresis = {'9' * 5000}\n")
    (problem,) = validate_file(path)
    assert problem.startswith(f"{path}:5: unreadable value")


def test_lines_are_right_after_multi_line_strings(tmp_path: Path) -> None:
    text = (
        RULE
        + 'description = """\nconfirm = 0\n[[rules]]\nid = "fake"\n"""\n'  # lines 5-9
        + "notes = '''\nhysteresis = -1\n'''\n"  # lines 10-12
        + "confirm = 0\n"  # line 13
        + '[[rules]]\nid = "y"\ntype = "new_high"\nsymbol = "Q"\ncolour = "red"\n'  # 14-18
    )
    path = write(tmp_path, text)
    problems = validate_file(path)
    assert [p.split(": ", 2)[:2] for p in problems] == [
        [f"{path}:10", "rule x"],  # notes: unknown field
        [f"{path}:13", "rule x"],  # confirm: must be between 1 and 1000
        [f"{path}:18", "rule y"],  # colour: unknown field
    ]


def test_lines_are_right_inside_inline_tables(tmp_path: Path) -> None:
    text = (
        "rules = [\n"
        '  {id = "a", type = "new_high", symbol = "QQQ", confirm = 0},\n'
        '  {id = "b", type = "spread_threshold", a = "IWM", b = "IWM", threshold_bps = 5},\n'
        "]\n"
    )
    path = write(tmp_path, text)
    assert validate_file(path) == [
        f"{path}:2: rule a: confirm: must be between 1 and 1000, got 0",
        f"{path}:3: rule b: b: must differ from a",
    ]
    nested = write(tmp_path, f'{RULE}name = {{ text = "x", confirm = 0 }}\nconfirm = 0\n')
    lines = [p.split(": ")[0] for p in validate_file(nested)]
    assert lines == [f"{nested}:5", f"{nested}:6"]


def test_odd_types_for_id_and_type_do_not_crash(tmp_path: Path) -> None:
    path = write(tmp_path, "[[rules]]\nid = [1]\ntype = {a = 1}\n\n[[rules]]\nid = 2\ntype = 3\n")
    problems = validate_file(path)
    assert problems and all(re.match(rf"{re.escape(str(path))}:[2-7]: ", p) for p in problems)


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "# x\n" * (MAX_BYTES // 4 + 1))
    assert validate_file(path) == [
        f"{path}:1: larger than {MAX_BYTES // 1024} KiB; not a rules file"
    ]


def test_cli_prints_lines_and_exits_1_never_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "rules = [1, 2]\n")
    for args in (["rules", "validate", str(path)], ["rules", "list", "--json"], ["check"]):
        result = CliRunner().invoke(
            app, ["--db", str(tmp_path / "r.db"), *args], env={"ROTATION_RULES": str(path)}
        )
        assert result.exit_code == 1, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.stderr.startswith(f"{path}:1: rules[0] must be a table")
        assert "Traceback" not in result.output


def _problem_lines_are_located(path: Path, problems: list[str]) -> bool:
    prefix = re.compile(rf"^{re.escape(str(path))}(:\d+)?: \S")
    return all(prefix.match(problem) and "\n" not in problem for problem in problems)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=400))
def test_any_bytes_give_located_lines_never_an_exception(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, data)
    assert _problem_lines_are_located(path, validate_file(path))


PIECES = st.sampled_from(
    [
        "[[rules]]\n", "[rules]\n", "[[rules.x]]\n", 'id = "a"\n', "id = 1\n", 'type = "curve"\n',
        'type = "new_high"\n', 'symbol = "Q"\n', "confirm = nan\n", "hysteresis = inf\n",
        'description = """\n', '"""\n', "'''\n", "x = [\n", "]\n", "y = {a = 1}\n", "rules = [",
        '{id = "b"}, ', "1, ", '"s", ', "]\n", "# c\n", "=\n", '"\n', "a.b.c = 1\n", "[[\n",
        "\\\n", "\ufeff", "\x00", "1e309\n", "since = 2024-01-01\n", "tags = [1, inf]\n",
    ]
)  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(PIECES, max_size=25))
def test_any_toml_like_text_gives_located_lines(tmp_path: Path, pieces: list[str]) -> None:
    path = write(tmp_path, "".join(pieces))
    problems = validate_file(path)
    assert _problem_lines_are_located(path, problems)
    if not problems:
        load_rules(load_settings(None, rules_path=path))  # valid means loadable


KEYS = st.sampled_from(["confirm", "cooldown", "hysteresis", "colour", "lookback", "severity"])
BAD_VALUES = st.sampled_from(["0", "-3", "inf", "nan", '"x"', "[1, 2]", "{a = 1}", "1e309"])
PADDING = st.sampled_from(
    ["", "# note\n", 'name = """\nconfirm = 0\n[[rules]]\n"""\n', "notes2 = '''\nx = 1\n'''\n",
     'tags = [\n  "a",\n  "b",\n]\n', "\n\n"]
)  # fmt: skip
AFTER = st.sampled_from(["", "# tail\n", "notes3 = '''\n[[rules]]\nconfirm = 0\n'''\n", "\n"])


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rules=st.lists(st.tuples(PADDING, KEYS, BAD_VALUES, AFTER), min_size=1, max_size=4))
def test_each_bad_field_is_reported_on_the_line_it_is_written(tmp_path: Path, rules) -> None:
    text, expected = "", {}
    for index, (before, key, value, after) in enumerate(rules):
        text += f'[[rules]]\nid = "r{index}"\ntype = "new_high"\nsymbol = "Q"\n{before}'
        expected[f"r{index}"] = (key, text.count("\n") + 1)
        text += f"{key} = {value}\n{after}"
    path = write(tmp_path, text)
    found = {}
    for problem in validate_file(path):
        match = re.match(rf"{re.escape(str(path))}:(\d+): rule (r\d+): (\w+): ", problem)
        assert match, problem
        found.setdefault(match[2], {})[match[3]] = int(match[1])
    for rule_id, (key, line) in expected.items():
        if key in found.get(rule_id, {}):
            assert found[rule_id][key] == line
        # "unknown field" on the padding's own keys (name, notes2, tags) is fine too


def test_json_output_survives_values_json_cannot_hold(tmp_path: Path) -> None:
    from bot.cli.common import json_safe

    value = {"a": float("inf"), "b": [float("nan"), -float("inf")], 3: {1, 2}, "c": object()}
    text = json.dumps(json_safe(value), allow_nan=False)
    assert json.loads(text)["a"] is None and json.loads(text)["b"] == [None, None]


ANY_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.dates(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text() | st.integers(), inner),
    max_leaves=20,
)


@given(value=ANY_VALUE)
def test_print_json_never_fails_and_prints_strict_json(value) -> None:
    from bot.cli import common

    written: list[str] = []
    original = common.sys.stdout
    common.sys.stdout = _Collect(written)  # print_json writes to sys.stdout
    try:
        common.print_json(value)
    finally:
        common.sys.stdout = original

    def refuse(constant: str) -> None:
        raise AssertionError(f"not strict JSON: {constant}")

    json.loads("".join(written), parse_constant=refuse)


class _Collect:
    def __init__(self, into: list[str]) -> None:
        self.into = into

    def write(self, text: str) -> int:
        self.into.append(text)
        return len(text)


def test_a_price_file_whose_name_is_not_a_symbol_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    good = "Date,Close\n2024-01-02,10\n"
    for name in ("@everyone.csv", "IWM.csv", "a b.csv"):
        (folder / name).write_text(good, encoding="utf-8")
    result = CliRunner().invoke(
        app, ["--db", str(tmp_path / "r.db"), "prices", "import", str(folder)]
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.output
    assert lines[0].startswith(f"error: {folder}/@everyone.csv: the file name is not a symbol")
    assert "a b.csv: the file name is not a symbol" in lines[1]
    assert lines[1].endswith("(nothing imported: fix the file and run the import again)")


def test_check_json_holds_an_infinite_measure(tmp_path: Path) -> None:
    from datetime import date

    from signals.models import PriceBar
    from storage.db import open_db
    from storage.prices import upsert_bars

    rules = write(tmp_path, '[[rules]]\nid = "up"\ntype = "rally_from_low"\nsymbol = "TINY"\n'
                  "lookback = 2\nthreshold_pct = 10\n")  # fmt: skip
    db_path = tmp_path / "r.db"
    db = open_db(db_path)
    days = (date(2024, 1, 2), date(2024, 1, 3))
    upsert_bars(
        db,
        [
            PriceBar("TINY", d, close=v, adj_close=v)
            for d, v in zip(days, (5e-324, 1e300), strict=True)
        ],
    )
    db.close()
    env = {"ROTATION_RULES": str(rules)}
    result = CliRunner().invoke(
        app, ["--db", str(db_path), "check", "--as-of", "2024-01-03", "--json"], env=env
    )
    assert result.exit_code == 0, result.output

    def refuse(constant: str) -> None:
        raise AssertionError(f"not strict JSON: {constant}")

    data = json.loads(result.stdout, parse_constant=refuse)
    (rule,) = [r for r in data["rules"] if r["id"] == "up"]
    assert rule["measure"] is None  # +inf %: JSON has no infinity


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(["[/]", "[bold]x", "[link=x]y", "\\[", "@everyone"]) | st.text(min_size=1)
)
def test_rules_list_shows_any_name_as_text(tmp_path: Path, name: str) -> None:
    escaped = json.dumps(name, ensure_ascii=True)  # a TOML basic string, escapes and all
    path = write(tmp_path, f"{RULE}name = {escaped}\n")
    args = ["--db", str(tmp_path / "r.db"), "rules", "list"]
    for extra in ([], ["--json"]):
        result = CliRunner().invoke(app, [*args, *extra], env={"ROTATION_RULES": str(path)})
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert result.exit_code in (0, 1)  # 1: a blank or invalid name is reported
