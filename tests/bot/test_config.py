"""Settings: defaults, parsing of lists, one clear line per problem, exit code 2 at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import _register_commands, app
from bot.config import ConfigError, load_settings

_register_commands()


def test_defaults_need_no_environment() -> None:
    settings = load_settings(None)
    assert settings.db_path == Path("rotation.db")
    assert settings.fred_series == ("DFEDTARU", "DGS10", "DGS3MO")
    assert not settings.discord_enabled and not settings.slack_enabled


def test_comma_lists_are_split_and_symbols_upper_cased(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTATION_SYMBOLS", " iwc, ^rut ,,")
    monkeypatch.setenv("DISCORD_CHANNEL_IDS", "123,456")
    settings = load_settings(None)
    assert settings.extra_symbols == ("IWC", "^RUT")
    assert settings.discord_channel_ids == ("123", "456")


def test_env_example_loads_as_the_defaults() -> None:
    from tests.conftest import PROJECT_ROOT

    settings = load_settings(PROJECT_ROOT / ".env.example")
    assert settings == load_settings(None)


def test_every_setting_is_documented_in_env_example() -> None:
    from bot.config import Settings
    from tests.conftest import PROJECT_ROOT

    documented = (PROJECT_ROOT / ".env.example").read_text()
    for field in Settings.model_fields.values():
        assert f"\n{field.validation_alias}=" in documented, field.validation_alias


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("ROTATION_DB=/tmp/desk.db\nSLACK_CHANNEL=C123\nSLACK_BOT_TOKEN=xoxb-1\n")
    settings = load_settings(env)
    assert settings.db_path == Path("/tmp/desk.db")
    assert settings.slack_enabled


def test_every_problem_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_HTTP_PORT", "eighty")
    monkeypatch.setenv("DISCORD_CHANNEL_IDS", "general")
    monkeypatch.setenv("ROTATION_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    lines = caught.value.lines
    assert len(lines) == 3
    assert any(line.startswith("config error: SLACK_HTTP_PORT:") for line in lines)
    assert any("Discord ids must be numbers" in line for line in lines)


def test_secrets_never_appear_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISCORD_BOT_TOKEN", "super-secret-token")
    monkeypatch.setenv("ROTATION_INTRADAY_MINUTES", "-1")
    with pytest.raises(ConfigError) as caught:
        load_settings(None)
    assert "super-secret-token" not in str(caught.value)
    settings = load_settings(None, intraday_minutes=15)
    assert "super-secret-token" not in repr(settings)


def test_cli_exits_2_without_traceback_on_bad_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTATION_FETCH_RETRIES", "many")
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert "config error: ROTATION_FETCH_RETRIES" in result.output
    assert "Traceback" not in result.output


def test_db_option_overrides_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROTATION_DB", str(tmp_path / "env.db"))
    settings = load_settings(None, db_path=tmp_path / "flag.db")
    assert settings.db_path == tmp_path / "flag.db"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ROTATION_HISTORY_START", "2020-13-01", "must be a date YYYY-MM-DD, got '2020-13-01'"),
        ("ROTATION_SYMBOLS", "IWM,SP$Y", "invalid symbols SP$Y"),
    ],
)
def test_market_data_settings_fail_at_start(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    # A command that never touches Yahoo still refuses to start: the typo is found at once.
    result = CliRunner().invoke(app, ["rules", "list"])
    assert result.exit_code == 2
    (line,) = result.output.splitlines()  # one line, even in a narrow terminal
    assert line.startswith(f"config error: {name}: ") and message in line


@pytest.mark.parametrize("kind", ["directory", "not a database"])
def test_unusable_db_path_is_one_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path
    if kind == "not a database":
        path = tmp_path / "notes.db"
        path.write_text("hello, not SQLite\n")
    result = CliRunner().invoke(app, ["--db", str(path), "prices", "show", "IWM"])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: cannot open the database {path}: ")
    assert result.exception is None or isinstance(result.exception, SystemExit)
