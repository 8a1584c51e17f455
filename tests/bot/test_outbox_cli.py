"""`rotation-bot outbox`: pending, delivered and dead rows, as a table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bot.cli import _register_commands, app
from storage.db import open_db
from storage.outbox import enqueue_alerts
from storage.outbox_claims import claim_next, finish_delivered, finish_failed
from tests.fakes.delivery_kit import T0, make_event

if not any(group.name == "prices" for group in app.registered_groups):
    _register_commands()


def invoke(db_path: Path, *args: str) -> Result:
    return CliRunner().invoke(app, ["--db", str(db_path), *args])


def seed(db_path: Path) -> None:
    db = open_db(db_path)
    events = [make_event(18), make_event(19), make_event(20, title="@everyone [bold]x[/]")]
    enqueue_alerts(db, events, ["discord:1"], now=T0)
    finish_delivered(db, claim_next(db, ["discord:1"], T0, 60, "test"), "111", T0)
    second = claim_next(db, ["discord:1"], T0, 60, "test")
    finish_failed(
        db, second, "Discord HTTP 403 (code 50001): Missing Access", retry_at=None, now=T0
    )
    db.close()


def test_outbox_json_lists_every_state(db_path):
    seed(db_path)
    result = invoke(db_path, "outbox", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["status"], r["message_id"]) for r in rows] == [
        ("delivered", "111"),
        ("dead", None),
        ("pending", None),
    ]
    assert set(rows[0]) >= {"dedupe_key", "destination", "attempts", "last_error", "title"}
    assert rows[2]["title"] == "@everyone [bold]x[/]"


def test_outbox_status_filter_and_table(db_path):
    seed(db_path)
    dead = json.loads(invoke(db_path, "outbox", "--json", "--status", "dead").stdout)
    assert [r["last_error"] for r in dead] == ["Discord HTTP 403 (code 50001): Missing Access"]
    table = invoke(db_path, "outbox")
    assert table.exit_code == 0
    assert "delivered" in table.output and "dead" in table.output and "pending" in table.output


def test_outbox_empty_and_bad_status(db_path):
    assert "outbox is empty" in invoke(db_path, "outbox").output
    bad = invoke(db_path, "outbox", "--status", "lost")
    assert bad.exit_code == 2
    assert "unknown status 'lost'" in bad.output


def test_retry_puts_one_dead_row_back_in_the_queue(db_path):
    seed(db_path)
    result = invoke(db_path, "outbox", "retry", "2")
    assert result.exit_code == 0, result.output
    assert "1 row(s) back in the queue" in result.stdout
    rows = json.loads(invoke(db_path, "outbox", "--json").stdout)
    assert [r["status"] for r in rows] == ["delivered", "pending", "pending"]
    assert rows[1]["attempts"] == 1  # kept: the next attempt looks for an earlier post first


def test_retry_dead_puts_every_dead_row_back(db_path):
    seed(db_path)
    assert "1 row(s) back" in invoke(db_path, "outbox", "retry", "--dead").stdout
    assert invoke(db_path, "outbox", "--status", "dead", "--json").stdout.strip() == "[]"
    again = invoke(db_path, "outbox", "retry", "--dead")
    assert again.exit_code == 0 and "no dead rows" in again.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["99"], 1, "no outbox row 99"),
        (["1"], 1, "outbox row 1 is delivered, not dead"),
        (["3"], 1, "outbox row 3 is pending, not dead"),
        ([], 2, "give a row id or --dead"),
        (["2", "--dead"], 2, "give a row id or --dead"),
    ],
)
def test_retry_refuses_clearly(db_path, args, code, message):
    seed(db_path)
    result = invoke(db_path, "outbox", "retry", *args)
    assert result.exit_code == code
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
