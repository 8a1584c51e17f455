"""The NYSE calendar is built once and kept beside the database; a stale or broken file is
rebuilt, never trusted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from bot import calendar

DAY = date(2024, 11, 29)  # the day after Thanksgiving: an early close (13:00 New York)


@pytest.fixture
def beside(tmp_path: Path) -> Iterator[Path]:
    """The calendar cached beside a database in tmp_path; the process's calendar restored."""
    calendar.cache_beside(tmp_path / "rotation.db")
    calendar._sessions.cache_clear()
    yield tmp_path / "rotation.db.nyse-sessions.json"
    calendar._CACHE_FILE.clear()
    calendar._sessions.cache_clear()


def fresh_close(day: date) -> str:
    calendar._sessions.cache_clear()
    return calendar.session_close(day).isoformat()


def test_the_first_start_writes_the_file_and_later_ones_read_it(beside: Path) -> None:
    built = fresh_close(DAY)
    assert built == "2024-11-29T18:00:00+00:00"
    data = json.loads(beside.read_text())
    assert data["stamp"]["exchange_calendars"]
    # Proof the next start reads the file: a close changed in it is what it answers.
    data["sessions"] = [[d, o, c.replace("18:00", "18:30")] for d, o, c in data["sessions"]]
    beside.write_text(json.dumps(data))
    assert fresh_close(DAY) == "2024-11-29T18:30:00+00:00"


def test_another_exchange_calendars_version_rebuilds_the_file(beside: Path) -> None:
    fresh_close(DAY)
    data = json.loads(beside.read_text())
    data["stamp"]["exchange_calendars"] = "0.0.1"
    data["sessions"] = data["sessions"][:10]
    beside.write_text(json.dumps(data))
    assert fresh_close(DAY) == "2024-11-29T18:00:00+00:00"
    assert json.loads(beside.read_text())["stamp"]["exchange_calendars"] != "0.0.1"


@pytest.mark.parametrize("damage", ["{not json", '{"stamp": 1}', "[]", ""])
def test_a_broken_file_is_reported_and_rebuilt(
    beside: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    fresh_close(DAY)
    stamp = json.loads(beside.read_text())["stamp"]
    beside.write_text(damage if damage != '{"stamp": 1}' else json.dumps({"stamp": stamp}))
    with caplog.at_level(logging.WARNING, logger="bot.calendar"):
        assert fresh_close(DAY) == "2024-11-29T18:00:00+00:00"
    assert "rebuilding it" in caplog.text
    assert json.loads(beside.read_text())["stamp"] == stamp


def test_without_a_database_folder_nothing_is_written(tmp_path: Path) -> None:
    calendar.cache_beside(tmp_path / "missing" / "rotation.db")
    try:
        assert fresh_close(DAY) == "2024-11-29T18:00:00+00:00"
        assert not (tmp_path / "missing").exists()
    finally:
        calendar._CACHE_FILE.clear()
        calendar._sessions.cache_clear()
