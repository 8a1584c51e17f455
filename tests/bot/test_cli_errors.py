"""The console entry point: usage errors are one line with exit 2, and `--version` works."""

from __future__ import annotations

import sys

import pytest

from bot.cli import main


def run_main(monkeypatch: pytest.MonkeyPatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["rotation-bot", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "No such command 'nope'. (see `rotation-bot --help`)"),
        (["spread"], "Missing argument 'A'. (see `rotation-bot spread --help`)"),
        (["spread", "A", "B", "--bogus"], "No such option: --bogus (see `rotation-bot spread"),
        (["prices", "frobnicate"], "No such command 'frobnicate'. (see `rotation-bot prices"),
        (["prices", "show", "IWM", "--tail", "many"], "Invalid value for '--tail'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(monkeypatch, capsys, args, message):
    code, out, err = run_main(monkeypatch, capsys, *args)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith("error: ") and message in err


def test_version_prints_one_line_and_exits_0(monkeypatch, capsys):
    code, out, err = run_main(monkeypatch, capsys, "--version")
    assert code == 0 and err == ""
    assert out.startswith("rotation-bot ") and len(out.splitlines()) == 1


def test_a_command_failure_keeps_its_own_exit_code(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(
        monkeypatch, capsys, "--db", str(tmp_path / "x.db"), "prices", "show", "IWM"
    )
    assert code == 1 and err.startswith("error: no cached prices for 'IWM'")


def test_help_exits_0_and_reads_like_a_normal_cli(monkeypatch, capsys):
    code, out, _ = run_main(monkeypatch, capsys, "spread", "--help")
    assert code == 0 and "Usage: rotation-bot spread [OPTIONS] A B" in out
    _, check_help, _ = run_main(monkeypatch, capsys, "check", "--help")
    assert "--json" in check_help and "<bool>" not in check_help and "{" not in check_help


def test_a_database_in_a_missing_folder_is_refused_not_created(monkeypatch, capsys, tmp_path):
    # Issue 24: the folder used to be created with a note; now a config error, as for
    # ROTATION_DB (tests/bot/test_settings_messages.py), and nothing is created.
    path = tmp_path / "typo" / "desk.db"
    code, _, first = run_main(monkeypatch, capsys, "--db", str(path), "prices", "show", "IWM")
    assert code == 2
    assert first.startswith("config error: --db: the directory")
    assert not path.parent.exists()
