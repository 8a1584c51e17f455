"""The README and the documentation site stay true: every command they show exists, every
command has help text and is documented, and the README's two commands are the ones that work.
"""

from __future__ import annotations

import re

import click
import pytest
import typer
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from tests.conftest import PROJECT_ROOT

if not app.registered_groups:
    _register_commands()

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
PAGES = sorted((PROJECT_ROOT / "docs").glob("*.md"))
# Everything a reader can open: the front page and every page of the site.
DOCS = "\n".join([README, *(page.read_text(encoding="utf-8") for page in PAGES)])
CI_SCRIPT = (PROJECT_ROOT / ".ci" / "run").read_text(encoding="utf-8")
_SHELL_BLOCK = re.compile(r"```sh\n(.*?)```", re.DOTALL)
# `rotation-bot prices update [SYMBOL]...` -> ("prices", "update"): the lower-case words that
# follow the program name, up to the first argument, option or placeholder.
_SHOWN = re.compile(r"rotation-bot((?: [a-z][a-z-]*)+)")


def _shown_commands() -> list[tuple[str, ...]]:
    return sorted({tuple(match.split()) for match in _SHOWN.findall(DOCS)})


def _cli() -> click.Group:
    return typer.main.get_command(app)  # type: ignore[return-value]


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in group.commands.items():
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
    return paths


@pytest.mark.parametrize("words", _shown_commands(), ids=" ".join)
def test_every_command_in_the_readme_exists(words: tuple[str, ...]) -> None:
    # Trailing lower-case words that are not commands (prose after the command) are dropped.
    path = list(words)
    known = set(_command_paths(_cli()))
    while path and tuple(path) not in known:
        path.pop()
    assert path, f"the docs show `rotation-bot {' '.join(words)}`, which is not a command"
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", _command_paths(_cli()), ids=" ".join)
def test_every_command_has_help_and_is_documented(path: tuple[str, ...]) -> None:
    command: click.Command = _cli()
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    assert f"rotation-bot {' '.join(path)}" in DOCS, f"the docs never show {' '.join(path)}"


def test_the_readme_shows_exactly_two_commands() -> None:
    # One installs and runs the product, one runs the tests: the front page's promise.
    blocks = [block.strip() for block in _SHELL_BLOCK.findall(README)]
    assert len(blocks) == 2, blocks
    install_and_run, run_tests = blocks
    assert "pip install -e ." in install_and_run
    assert install_and_run.endswith("rotation-bot run")
    assert "pytest" in run_tests


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    run_tests = _SHELL_BLOCK.findall(README)[1].strip()
    assert run_tests in CI_SCRIPT.splitlines()
    assert "mkdocs build --strict" in CI_SCRIPT


def test_the_readme_warns_that_the_suite_takes_minutes() -> None:
    assert "several minutes" in README


def test_every_page_of_the_site_is_in_the_nav() -> None:
    config = (PROJECT_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [page.name for page in PAGES if f": {page.name}" not in config]
    assert missing == []
