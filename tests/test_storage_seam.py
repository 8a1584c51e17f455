"""bot/ reaches the database only through storage functions and the `Store` handle.

import-linter keeps `sqlite3` and `sqlite_utils` out of bot/; this keeps SQL text and raw
sqlite-utils calls out too, so a PostgreSQL `Store` (issue 12) needs no change in bot/.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.conftest import PROJECT_ROOT

_SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|PRAGMA|CREATE|ALTER|DROP|VACUUM)\b")
# sqlite-utils / DB-API methods bot/ must not call on the handle (atomic and close are its API).
_RAW_CALLS = {"execute", "executemany", "executescript", "rows_where", "table_names", "enable_wal"}


def _bot_modules() -> list[Path]:
    return sorted((PROJECT_ROOT / "bot").rglob("*.py"))


def _raw_uses(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _SQL.match(node.value):
                found.append(f"{path.name}:{node.lineno}: SQL text {node.value[:40]!r}")
        elif isinstance(node, ast.Attribute) and node.attr in {*_RAW_CALLS, "conn"}:
            found.append(f"{path.name}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Subscript) and ast.unparse(node.value).endswith("db"):
            found.append(f"{path.name}:{node.lineno}: table lookup {ast.unparse(node)}")
    return found


def test_bot_has_no_sql_and_no_raw_database_calls() -> None:
    assert len(_bot_modules()) > 30
    found = [use for path in _bot_modules() for use in _raw_uses(path)]
    assert found == []


def test_the_check_sees_sql_and_raw_calls(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('db.execute("SELECT 1")\nrows = db["outbox"]\nself.db.conn.commit()\n')
    assert len(_raw_uses(sample)) == 4
