"""Each rule's last evaluation and the key of what it was computed from (`rule_checks`).

A check whose inputs for a rule (`signals.check_inputs.rule_inputs`: definition, data, sessions,
expected session, starting state) equal the stored key gives the stored evaluation back
instead of rebuilding the rule's frame over its whole history. A row is a cache: losing or
dropping it only makes the next check compute again.

`leaf_digests` keeps the digest of each symbol or series a check loaded, with the data
version (`storage.versioning.data_version`) read before loading it: while that counter has
not moved, no price or series row changed, so a check decides which keys still hold from
these digests without loading the prices.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date

from sqlite_utils.migrations import Migrations

from signals.models import Evaluation
from storage.db import Store, register
from storage.rule_state import state_from_json, state_to_json

migrations = register(Migrations("rotation.rule_checks"))


@migrations()
def create_rule_checks(db: Store) -> None:
    """One row per rule: the key of its inputs and the evaluation they gave (no events)."""
    db.execute(
        """
        CREATE TABLE rule_checks (
            rule_id TEXT PRIMARY KEY,
            inputs TEXT NOT NULL,
            evaluation TEXT NOT NULL
        )
        """
    )


@migrations()
def create_leaf_digests(db: Store) -> None:
    """One row per symbol or series: its digest as loaded at a data version."""
    db.execute(
        """
        CREATE TABLE leaf_digests (
            leaf TEXT PRIMARY KEY,
            version BIGINT NOT NULL,
            digest TEXT NOT NULL
        )
        """
    )


def evaluation_to_json(evaluation: Evaluation) -> str:
    """An evaluation without its events as JSON text (floats round-trip exactly)."""
    data = {
        "rule_id": evaluation.rule_id,
        "status": evaluation.status,
        "reason": evaluation.reason,
        "state": state_to_json(evaluation.state),
        "session": evaluation.session.isoformat() if evaluation.session else None,
        "measure": evaluation.measure,
        "threshold": evaluation.threshold,
        "unit": evaluation.unit,
        "summary": evaluation.summary,
    }
    return json.dumps(data, sort_keys=True)


def evaluation_from_json(text: str) -> Evaluation:
    """The evaluation `evaluation_to_json` wrote (with no events)."""
    data = json.loads(text)
    session = data["session"]
    return Evaluation(
        rule_id=data["rule_id"],
        status=data["status"],
        reason=data["reason"],
        state=state_from_json(data["state"]),
        session=date.fromisoformat(session) if session else None,
        measure=data["measure"],
        threshold=data["threshold"],
        unit=data["unit"],
        summary=data["summary"],
    )


def load_checks(db: Store, rule_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """(inputs key, evaluation JSON) of the rules named that have one."""
    wanted = set(rule_ids)
    rows = db.execute("SELECT rule_id, inputs, evaluation FROM rule_checks").fetchall()
    return {rule_id: (inputs, text) for rule_id, inputs, text in rows if rule_id in wanted}


def save_checks(db: Store, checks: Mapping[str, tuple[str, Evaluation]]) -> None:
    """Insert or replace each rule's inputs key and evaluation, atomically."""
    rows = [
        (rule_id, inputs, evaluation_to_json(evaluation))
        for rule_id, (inputs, evaluation) in checks.items()
    ]
    with db.atomic():
        db.executemany(
            "INSERT INTO rule_checks (rule_id, inputs, evaluation) VALUES (?, ?, ?)"
            " ON CONFLICT(rule_id) DO UPDATE SET"
            " inputs = excluded.inputs, evaluation = excluded.evaluation",
            rows,
        )


def clear_checks(db: Store) -> None:
    """Drop every stored evaluation and kept digest: the next check computes each rule afresh."""
    with db.atomic():
        db.execute("DELETE FROM rule_checks")
        db.execute("DELETE FROM leaf_digests")


def load_leaf_digests(db: Store, version: int) -> dict[str, str]:
    """The digests kept at this data version (none once any price or series row changed)."""
    rows = db.execute("SELECT leaf, digest FROM leaf_digests WHERE version = ?", (version,))
    return dict(rows.fetchall())


def save_leaf_digests(db: Store, version: int, digests: Mapping[str, str]) -> None:
    """Insert or replace the digest of each leaf as loaded at `version`, atomically."""
    rows = [(leaf, version, digest) for leaf, digest in digests.items()]
    with db.atomic():
        db.executemany(
            "INSERT INTO leaf_digests (leaf, version, digest) VALUES (?, ?, ?)"
            " ON CONFLICT(leaf) DO UPDATE SET"
            " version = excluded.version, digest = excluded.digest",
            rows,
        )
