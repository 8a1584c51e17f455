"""The CLI piped into a reader that has stopped (`rotation-bot prices | head -1`).

Real pipes and a real `rotation-bot` process, whose reader has closed its end before the CLI
writes, as `head` has once it has its line: every write then fails with EPIPE. The CLI exits
0 with nothing on stderr, as `seq 1000000 | head -1` does; rich and click alone exit 1.
(Output cut short mid-write is a short write, not an error: nothing to test there.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import open_db
from storage.prices import upsert_bars
from tests.fakes.discord_kit import daily_bars

CLI = [sys.executable, "-c", "from bot.cli import main; main()"]


@pytest.fixture(scope="module")
def priced_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipe") / "rotation.db"
    db = open_db(path)
    upsert_bars(db, daily_bars("IWC", 100.0, 0.3))
    db.close()
    return path


@pytest.mark.parametrize(
    "words",
    [
        ["prices"],  # a group's help: drawn by rich (its EPIPE handling exits 1)
        ["prices", "show", "IWC"],  # a table through our rich console
        ["prices", "show", "IWC", "--json"],  # our own write (click's EPIPE handling exits 1)
    ],
)
def test_output_into_a_reader_that_has_gone_ends_quietly(priced_db: Path, words: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "COLUMNS": "80"}
    try:
        done = subprocess.run(
            [*CLI, "--db", str(priced_db), *words],
            stdout=write_end, stderr=subprocess.PIPE, env=env, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr.decode()) == (0, "")
