"""Rules made in chat: `chat_rules` (one TOML table per rule, with who made and changed it)
and `rule_previews` (a proposed rule waiting for its Save or Cancel button).

A rule is stored as the TOML text of one `[[rules]]` table, exactly what `rules export`
writes, so the rules-file validation reads it back. Previews are kept here rather than in
memory so that a button pressed after a restart, or on another replica, finds its preview,
and so that two presses of Save settle it once (`settle_preview` is one conditional UPDATE).
Authors are `<platform>:<user id>`; times are ISO 8601 UTC text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlite_utils.migrations import Migrations

from storage.db import Store, register

migrations = register(Migrations("rotation.chat_rules"))

OUTCOMES = ("saved", "cancelled")
# Settled or expired previews are kept a day (a late press is told what became of it).
_KEEP = timedelta(days=1)


@migrations()
def create_chat_rules(db: Store) -> None:
    """Rules made in chat, and the previews waiting for Save or Cancel."""
    db.execute(
        """
        CREATE TABLE chat_rules (
            rule_id TEXT PRIMARY KEY,
            toml TEXT NOT NULL,
            created_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE rule_previews (
            token TEXT PRIMARY KEY,
            action TEXT NOT NULL,
            rule_id TEXT NOT NULL,
            toml TEXT NOT NULL,
            author TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            outcome TEXT,
            settled_by TEXT
        )
        """
    )


@dataclass(frozen=True)
class ChatRule:
    """One stored chat rule: its TOML table and who made and last changed it, when."""

    rule_id: str
    toml: str
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str


@dataclass(frozen=True)
class Preview:
    """A proposed rule (`action` new or edit) waiting for Save or Cancel."""

    token: str
    action: str
    rule_id: str
    toml: str
    author: str
    created_at: str
    expires_at: str
    outcome: str | None = None
    settled_by: str | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


_SELECT_RULES = (
    "SELECT rule_id, toml, created_by, created_at, updated_by, updated_at FROM chat_rules"
)
_SELECT_PREVIEWS = (
    "SELECT token, action, rule_id, toml, author, created_at, expires_at, outcome, settled_by"
    " FROM rule_previews"
)


def save_rule(db: Store, rule_id: str, toml: str, *, by: str, now: datetime) -> ChatRule:
    """Insert a rule, or replace its TOML keeping who created it; returns the stored row."""
    stamp = _iso(now)
    db.execute(
        "INSERT INTO chat_rules (rule_id, toml, created_by, created_at, updated_by, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (rule_id) DO UPDATE SET toml = excluded.toml,"
        " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        (rule_id, toml, by, stamp, by, stamp),
    )
    stored = get_rule(db, rule_id)
    assert stored is not None  # just written
    return stored


def get_rule(db: Store, rule_id: str) -> ChatRule | None:
    """The stored chat rule with this id, or None."""
    rows = list(db.query(_SELECT_RULES + " WHERE rule_id = ?", (rule_id,)))
    return ChatRule(**rows[0]) if rows else None


def list_rules(db: Store) -> list[ChatRule]:
    """Every chat rule, oldest first (the order they join the rules in force)."""
    rows = db.query(_SELECT_RULES + " ORDER BY created_at, rule_id")
    return [ChatRule(**row) for row in rows]


def delete_rule(db: Store, rule_id: str) -> bool:
    """Remove a chat rule; False when there was none."""
    return db.execute("DELETE FROM chat_rules WHERE rule_id = ?", (rule_id,)).rowcount > 0


def add_preview(db: Store, preview: Preview, *, now: datetime) -> None:
    """Keep a preview until its button is pressed (old settled ones are dropped here)."""
    with db.atomic():
        db.execute("DELETE FROM rule_previews WHERE expires_at < ?", (_iso(now - _KEEP),))
        db.execute(
            "INSERT INTO rule_previews (token, action, rule_id, toml, author, created_at,"
            " expires_at, outcome, settled_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                preview.token, preview.action, preview.rule_id, preview.toml, preview.author,
                preview.created_at, preview.expires_at, None, None,
            ),
        )  # fmt: skip


def get_preview(db: Store, token: str) -> Preview | None:
    """A preview by its token, settled or not, or None when unknown (or long gone)."""
    rows = list(db.query(_SELECT_PREVIEWS + " WHERE token = ?", (token,)))
    return Preview(**rows[0]) if rows else None


def settle_preview(db: Store, token: str, outcome: str, *, by: str, now: datetime) -> bool:
    """Mark an open, unexpired preview saved or cancelled; False when it was not open.

    One conditional UPDATE, so of two presses (or two replicas) exactly one wins.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    cursor = db.execute(
        "UPDATE rule_previews SET outcome = ?, settled_by = ?"
        " WHERE token = ? AND outcome IS NULL AND expires_at > ?",
        (outcome, by, token, _iso(now)),
    )
    return cursor.rowcount > 0
