"""The README stays true: every command it shows exists, every command has help text."""

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
# `rotation-bot prices update [SYMBOL]...` -> ("prices", "update"): the lower-case words that
# follow the program name, up to the first argument, option or placeholder.
_SHOWN = re.compile(r"rotation-bot((?: [a-z][a-z-]*)+)")


def _shown_commands() -> list[tuple[str, ...]]:
    return sorted({tuple(match.split()) for match in _SHOWN.findall(README)})


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
    assert path, f"README shows `rotation-bot {' '.join(words)}`, which is not a command"
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", _command_paths(_cli()), ids=" ".join)
def test_every_command_has_help_and_is_documented(path: tuple[str, ...]) -> None:
    command: click.Command = _cli()
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    assert f"rotation-bot {' '.join(path)}" in README, f"README never shows {' '.join(path)}"
