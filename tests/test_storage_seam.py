"""bot/ reaches the database only through storage functions and the `Store` handle.

import-linter keeps `sqlite3` and `sqlite_utils` out of bot/; this keeps SQL text and raw
sqlite-utils calls out too, so a PostgreSQL `Store` (issue 12) needs no change in bot/.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlite_utils import Database

from tests.conftest import PROJECT_ROOT

_SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|PRAGMA|CREATE|ALTER|DROP|VACUUM)\b")
# The handle's whole API for bot/ is `atomic()` and `close()`; any other sqlite-utils attribute
# on something named like a handle (db, self.db, self._db) would tie bot/ to SQLite.
_HANDLE_ONLY = {"atomic", "close"}
_RAW = {name for name in dir(Database) if not name.startswith("_")} - _HANDLE_ONLY
_DB_API = {"execute", "executemany", "executescript", "conn", "cursor", "commit"}


def _bot_modules() -> list[Path]:
    return sorted((PROJECT_ROOT / "bot").rglob("*.py"))


def _raw_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _SQL.match(node.value):
                found.append(f"{path.name}:{node.lineno}: SQL text {node.value[:40]!r}")
        elif isinstance(node, ast.Attribute) and _raw_attribute(node):
            found.append(f"{path.name}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("db"):
            found.append(f"{path.name}:{node.lineno}: table lookup {ast.unparse(node)}")
    return found


def _raw_attribute(node: ast.Attribute) -> bool:
    on_handle = ast.unparse(node.value).endswith("db") and node.attr in _RAW
    return on_handle or node.attr in _DB_API


def test_bot_has_no_sql_and_no_raw_database_calls() -> None:
    assert len(_bot_modules()) > 30
    found = [use for path in _bot_modules() for use in _raw_uses(path)]
    assert found == []


def test_the_check_sees_sql_and_raw_calls(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'db.execute("SELECT 1")\nrows = db["outbox"]\nself.db.conn.commit()\n'
        "self._db.table_names()\nwith db.atomic():\n    db.close()\n"
    )
    assert len(_raw_uses(sample)) == 6
