"""Rules files: shipped defaults, user overrides by id, problems reported with line numbers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.rules.files import (
    RulesFileError,
    default_rules_text,
    load_rules,
    parse_entries,
    read_entries,
    rule_series,
    rule_symbols,
    validate_file,
)
from signals.rules import ExtremeSince, NewHigh, RelativeCrossover, SpreadThreshold

DEFAULT_IDS = [
    "iwc-overtakes-oef-ytd",
    "rut-all-time-high",
    "iwm-all-time-high",
    "rut-vs-spx-20y-low",
    "valuation-gap-widest-since-2008",
    "iwm-beats-iwb-400bps-42d",
    "iwc-rally-50pct-from-1y-low",
    "fed-rate-change",
    "curve-10y-3m-uninverts",
]


def settings_with(path: Path | None = None):
    return load_settings(None, **({"rules_path": path} if path else {}))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_load_and_cover_the_issue() -> None:
    rules = load_rules(settings_with())
    assert [rule.id for rule in rules] == DEFAULT_IDS
    by_id = {rule.id: rule for rule in rules}
    crossover = by_id["iwc-overtakes-oef-ytd"]
    assert isinstance(crossover, RelativeCrossover) and (crossover.a, crossover.b) == ("IWC", "OEF")
    gap = by_id["valuation-gap-widest-since-2008"]
    assert isinstance(gap, ExtremeSince) and gap.series == "ff:pb_small_vs_large"
    assert (gap.extreme, gap.since) == ("low", date(2008, 1, 1))
    spread = by_id["iwm-beats-iwb-400bps-42d"]
    assert isinstance(spread, SpreadThreshold) and spread.threshold_bps == 400
    assert parse_entries(read_entries(default_rules_text(), "d"))[1] == []


def test_symbols_and_series_the_rules_need() -> None:
    rules = load_rules(settings_with())
    assert rule_symbols(rules) == ["IWB", "IWC", "IWM", "OEF", "^GSPC", "^RUT"]
    assert rule_series(rules) == ["DFEDTARU", "DGS10", "DGS3MO", "ff:pb_small_vs_large"]


def test_user_file_overrides_by_id_and_adds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[rules]]
id = "rut-all-time-high"
hysteresis = 5.0

[[rules]]
id = "fed-rate-change"
enabled = false

[[rules]]
id = "qqq-high"
type = "new_high"
symbol = "QQQ"
lookback = 252
""",
    )
    rules = load_rules(settings_with(path))
    by_id = {rule.id: rule for rule in rules}
    assert "fed-rate-change" not in by_id
    rut = by_id["rut-all-time-high"]
    assert isinstance(rut, NewHigh) and rut.hysteresis == 5.0 and rut.symbol == "^RUT"
    assert isinstance(by_id["qqq-high"], NewHigh) and rules[-1].id == "qqq-high"
    every = load_rules(settings_with(path), include_disabled=True)
    assert len(every) == len(DEFAULT_IDS) + 1


def test_user_rule_of_another_type_replaces_the_default(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[rules]]\nid = "rut-all-time-high"\ntype = "rally_from_low"\n'
        'symbol = "^RUT"\nthreshold_pct = 20\n',
    )
    rut = {r.id: r for r in load_rules(settings_with(path))}["rut-all-time-high"]
    assert rut.type == "rally_from_low" and rut.legs() == ("^RUT",)


def test_every_problem_comes_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """# my rules
[[rules]]
id = "mine"
type = "new_high"
symbol = "QQQ"
confirm = 0
colour = "red"

[[rules]]
id = "spread"
type = "spread_threshold"
a = "IWM"
b = "IWM"
window = "7q"

[[rules]]
id = "mine"
type = "new_high"
symbol = "SPY"
""",
    )
    problems = validate_file(path)
    assert problems == [
        f"{path}:6: rule mine: confirm: must be between 1 and 1000, got 0",
        f"{path}:7: rule mine: colour: unknown field; allowed: basis, confirm, cooldown, "
        "description, destinations, emit_reversed, enabled, hysteresis, id, intraday, lookback, "
        "min_history, name, renotify_minutes, severity, symbol, tags, trigger, type",
        f"{path}:14: rule spread: window: unknown window '7q'; use ytd, qtd, mtd, 1m, 3m, 6m, "
        "1y, Nd (N sessions, e.g. 42d) or since:YYYY-MM-DD",
        f"{path}:9: rule spread: threshold_bps: required",
        f"{path}:13: rule spread: b: must differ from a",
        f"{path}:16: rule mine: duplicate id (first defined on line 2)",
    ]
    with pytest.raises(RulesFileError) as caught:
        load_rules(settings_with(path))
    assert caught.value.problems == problems


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[rules]]\nid = "x"\ntype = \n')
    (problem,) = validate_file(path)
    assert problem.startswith(f"{path}:3: TOML syntax error")


def test_wrong_shape_and_unreadable_file(tmp_path: Path) -> None:
    assert validate_file(write(tmp_path, 'rules = "no"\n')) == [
        f"{tmp_path / 'rules.toml'}:1: 'rules' must be an array of tables: [[rules]]"
    ]
    missing = tmp_path / "nope.toml"
    (problem,) = validate_file(missing)
    assert problem.startswith(f"{missing}: cannot read")
