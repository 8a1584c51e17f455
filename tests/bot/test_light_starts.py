"""Commands that only read the database start without pandas, numpy, exchange_calendars or
asyncio (the calendar is read from the file beside the database after the first start;
pydantic-settings gets a stand-in for asyncio, `bot.light_imports`), and without pydantic,
pydantic-settings, sqlite-utils' `Database` or what it brings (click, pluggy, dateutil):
settings through `bot.quick_settings`, the database through `storage.sqlite_reading`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "pandas",
    "numpy",
    "exchange_calendars",
    "asyncio",
    "pydantic",
    "pydantic_settings",
    "sqlite_utils.db",
    "sqlite_utils.plugins",
    "click",
    "pluggy",
    "dateutil",
    "importlib.metadata",
    "rich.markdown",
    "pygments",
)
HELP_HEAVY = ("rich.markdown", "markdown_it", "rich.traceback", "pygments", "importlib.metadata")


def heavy_modules_after(db: Path, *args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The heavy modules a fresh process has imported after running one command."""
    probe = (
        "import json, sys\n"
        "from bot.cli import main\n"
        f"sys.argv = ['rotation-bot', '--db', {str(db)!r}, *{list(args)!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT,
        check=True, timeout=120,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database after a first `status` (migrated, the calendar kept beside it)."""
    db = tmp_path_factory.mktemp("light") / "rotation.db"
    heavy_modules_after(db, "status")
    assert (db.parent / "rotation.db.nyse-sessions.json").exists()
    return db


@pytest.mark.parametrize("command", [("status",), ("outbox",), ("rules", "list")])
def test_reading_commands_import_no_pandas(started: Path, command: tuple[str, ...]) -> None:
    assert heavy_modules_after(started, *command) == []


def test_invalid_settings_still_get_the_models_message(started: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "--db", str(started), "status"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, check=False, timeout=120,
        env={**os.environ, "ROTATION_FETCH_RETRIES": "eleven"},
    )  # fmt: skip
    assert probe.returncode == 2
    assert probe.stderr.startswith("config error: ROTATION_FETCH_RETRIES: Input should be")


def test_storage_still_reads_frames_with_pandas(fresh_db) -> None:
    from storage.prices import load_prices

    assert load_prices(fresh_db, ["IWM"]) == {}


def test_pydantic_settings_asyncio_stand_in_gives_the_real_asyncio() -> None:
    probe = (
        "import sys, bot.config, pydantic_settings.main as m\n"
        "assert 'asyncio' not in sys.modules\n"
        "run = m.asyncio.run\n"  # first use: the real asyncio, imported now
        "import asyncio\n"
        "assert run is asyncio.run and type(asyncio) is type(sys)\n"
        "async def two(): return 2\n"
        "print(asyncio.run(two()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT,
        check=False, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "2"), done.stderr


@pytest.mark.parametrize("command", [("--help",), ("--version",)])
def test_help_imports_neither_markdown_nor_tracebacks(
    started: Path, command: tuple[str, ...]
) -> None:
    assert heavy_modules_after(started, *command, heavy=HELP_HEAVY) == []


def test_typer_stand_ins_give_the_real_rich_classes() -> None:
    probe = (
        "import sys, bot, typer.rich_utils as r\n"
        "assert 'rich.markdown' not in sys.modules and 'rich.traceback' not in sys.modules\n"
        "made = r.Markdown('*x*', style='bold')\n"  # first use: the real class, imported now
        "import rich.markdown, rich.traceback\n"
        "assert type(made) is rich.markdown.Markdown and type(rich.markdown) is type(sys)\n"
        "assert r.Traceback.from_exception == rich.traceback.Traceback.from_exception\n"
        "print(made.markup)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT_ROOT,
        check=False, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout.strip()) == (0, "*x*"), done.stderr


@pytest.mark.parametrize(
    "name", ["exchange_calendars", "exchange-calendars", "rotation-bot", "PyYAML", "typer"]
)
def test_installed_version_is_importlib_metadatas(name: str) -> None:
    from importlib import metadata

    from bot.light_imports import installed_version

    assert installed_version(name) == metadata.version(name)
    assert installed_version("no-such-distribution-anywhere") is None
