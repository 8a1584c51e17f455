"""What the engine says, as digests: run before and after a change that must not alter it.

Usage: python bench/outputs_digest.py [N] [--data DIR] [--dump FILE]   (default N: 1000)

Imports the shared data into a scratch database, then prints one sha256 per output: the
backtest events of N generated rules (`tests/rule_mix.py`) and of the default rules over the
whole history, and `check --json` of a first check (primes every rule on data to mid-2024),
a catch-up check on everything stored and a check with no new bar. Equal digests before and
after a change mean identical events, states and summaries. `--dump` writes the outputs
themselves as JSON, to see what differs.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.rule_mix

from bench.many_rules import DEFAULT, fill
from bot.cli.signal_cmds import check_json
from bot.rules.files import default_entries, parse_entries, read_entries
from bot.service.evaluation import check_rules, load_market
from signals.evaluate import backtest_rule
from signals.legs import DataError
from signals.rules import Rule
from storage.db import open_db
from storage.rule_state import event_to_payload
from tests.rule_mix import generate_rules

NOW = datetime(2026, 8, 24, 22, 0, tzinfo=UTC)
PRIMED_UNTIL = date(2024, 6, 28)


def backtests(rules: list[Rule], market: object) -> list[object]:
    """Every rule's backtest events as payloads (None for a rule without data)."""
    out: list[object] = []
    for rule in rules:
        try:
            out.append([event_to_payload(e) for e in backtest_rule(rule, market)])  # type: ignore[arg-type]
        except DataError as error:
            out.append(str(error))
    return out


def checks(db_file: Path, rules: list[Rule]) -> dict[str, object]:
    """`check --json` of a priming check, a catch-up check and a check with no new bar."""
    db = open_db(db_file)
    try:
        first = check_rules(db, rules, now=NOW, market=load_market(db, rules, end=PRIMED_UNTIL))
        caught_up = check_rules(db, rules, now=NOW)
        again = check_rules(db, rules, now=NOW)
    finally:
        db.close()
    reports = {"first": first, "catch-up": caught_up, "again": again}
    return {name: check_json(report) for name, report in reports.items()}


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def main() -> int:
    args = sys.argv[1:]
    data, dump = DEFAULT, None
    for flag in ("--data", "--dump"):
        if flag in args:
            at = args.index(flag)
            value = Path(args[at + 1])
            del args[at : at + 2]
            data, dump = (value, dump) if flag == "--data" else (data, value)
    count = int(args[0]) if args else 1000
    rules, problems = parse_entries(read_entries(generate_rules(count), "generated.toml"))
    defaults, _ = parse_entries(default_entries())
    assert not problems, problems
    outputs: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db_file = Path(tmp) / "digest.db"
        fill(db_file, data)
        db = open_db(db_file)
        market = load_market(db, rules + defaults)
        db.close()
        outputs["backtest generated"] = backtests(rules, market)
        outputs["backtest defaults"] = backtests(defaults, market)
        outputs.update(checks(db_file, rules))
    for name, value in outputs.items():
        print(f"{name:<20} {digest(value)}")
    if dump is not None:
        dump.write_text(json.dumps(outputs, sort_keys=True, default=str, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
