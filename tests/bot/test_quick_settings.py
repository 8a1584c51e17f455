"""The quick settings reader (no pydantic) gives exactly what the pydantic model gives, and
hands every value it is not sure of to the model, whose one-line errors stay the only ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings, load_settings_quickly, read_variables
from bot.quick_settings import FIELDS, QuickSettings, read_quickly

HOOK = "https://discord.com/api/webhooks/112233445566778899/" + "T" * 68
VALID = {  # every kind of value, each as a user may write it
    "ROTATION_SYMBOLS": " iwc, ^rut ,,",
    "ROTATION_LOG_LEVEL": "debug",
    "ROTATION_LOG_FORMAT": "JSON",
    "ROTATION_HISTORY_START": "2010-02-03",
    "ROTATION_OVERLAP": "0",
    "ROTATION_FETCH_TIMEOUT": "2.5",
    "ROTATION_SUSPECT_SIGMAS": "100",
    "FRENCH_5X5_URL": "Off",
    "ROTATION_LINKED_SYMBOLS": "^rut iwm, iwc; spy",
    "ROTATION_SECOND_SOURCE": "^gspc=sp500, ^RUT=stooq:^RUT",
    "DISCORD_BOT_TOKEN": "bot-token-123",
    "DISCORD_CHANNEL_IDS": "123,456",
    "DISCORD_WEBHOOK_URL": HOOK,
    "DISCORD_MODE": "HTTP",
    "DISCORD_PUBLIC_KEY": "ab" * 32,
    "SLACK_HTTP_PORT": "65535",
    "SLACK_SIGNING_SECRET": "s3cret-signing",
    "DELIVERY_MAX_WAIT_SECONDS": "0",
    "ROTATION_REQUEST_TIMEOUT_SECONDS": "1",
    "ROTATION_DIGEST_TIME": "9:05",
    "ROTATION_METRICS_PORT": "9100",
    "ROTATION_RULES": "rules/desk.toml",
    "ROTATION_DB": "postgresql://bot:pw@db.example/rotation",
}
REFUSED_OR_UNSURE = [  # each alone: the model decides (an error, or a value in its own way)
    ("ROTATION_OVERLAP", "61"),
    ("ROTATION_OVERLAP", "007"),
    ("ROTATION_OVERLAP", " 5"),
    ("ROTATION_FETCH_TIMEOUT", "0"),
    ("ROTATION_FETCH_TIMEOUT", "1e1"),
    ("ROTATION_LOG_LEVEL", "loud"),
    ("ROTATION_SYMBOLS", "iwc,bad symbol"),
    ("ROTATION_HISTORY_START", "2010-13-01"),
    ("ROTATION_DIGEST_TIME", "5:30pm"),
    ("DISCORD_WEBHOOK_URL", "https://example.com/hook"),
    ("DISCORD_CHANNEL_IDS", "general"),
    ("DISCORD_PUBLIC_KEY", "xyz"),
    ("ROTATION_SECOND_SOURCE", "^GSPC"),
    ("ROTATION_DB", "/no/such/folder/r.db"),
    ("ROTATION_DB", "mysql://x/y"),
    ("ROTATION_METRICS_PORT", "0"),
    ("db_path", "x.db"),  # a field's own name: pydantic-settings reads it too
]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no `.env` unless a test writes one
    for variable, _default, _read in FIELDS.values():
        monkeypatch.delenv(variable, raising=False)


def same_settings(quick: QuickSettings, model: Settings) -> None:
    for name in Settings.model_fields:
        mine, theirs = getattr(quick, name), getattr(model, name)
        if hasattr(theirs, "get_secret_value"):
            assert mine.get_secret_value() == theirs.get_secret_value(), name
            assert (str(mine), repr(mine)) == (str(theirs), repr(theirs)), name
        else:
            assert (type(mine), mine) == (type(theirs), theirs), name
    assert (quick.discord_enabled, quick.slack_enabled) == (
        model.discord_enabled,
        model.slack_enabled,
    )


def test_the_field_table_is_the_models() -> None:
    assert list(FIELDS) == list(Settings.model_fields)
    for name, (variable, default, _read) in FIELDS.items():
        field = Settings.model_fields[name]
        assert (variable, default) == (field.validation_alias, field.default), name


def test_defaults_are_the_models() -> None:
    same_settings(read_quickly(read_variables(None), {}), load_settings(None))


def test_every_kind_of_value_reads_as_the_model_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in VALID.items():
        monkeypatch.setenv(variable.lower() if variable == "SLACK_HTTP_PORT" else variable, value)
    quick = read_quickly(read_variables(None), {"db_path": "here.db"})
    assert isinstance(quick, QuickSettings)
    same_settings(quick, load_settings(None, db_path="here.db"))
    assert "bot-token-123" not in repr(quick)


@pytest.mark.parametrize(("variable", "value"), REFUSED_OR_UNSURE)
def test_what_it_is_unsure_of_goes_to_the_model(
    variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    assert read_quickly(read_variables(None), {}) is None
    try:
        expected: object = load_settings(None)
    except ConfigError as error:
        with pytest.raises(ConfigError) as refused:
            load_settings_quickly(None)
        assert refused.value.lines == error.lines
    else:
        assert load_settings_quickly(None) == expected


def test_environment_over_dotenv_over_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text(
        "ROTATION_OVERLAP=7\nexport ROTATION_FETCH_RETRIES='2'\nrotation_log_level=warning\n"
        "ROTATION_INTRADAY_MINUTES=30 # a comment\nSLACK_CHANNEL=\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("ROTATION_OVERLAP", "9")
    monkeypatch.setenv("ROTATION_FETCH_RETRIES", "")  # empty: the `.env` value stands
    quick = read_quickly(read_variables(".env"), {})
    assert isinstance(quick, QuickSettings)
    assert (quick.refresh_overlap_sessions, quick.fetch_retries, quick.log_level) == (
        9,
        2,
        "WARNING",
    )
    same_settings(quick, load_settings(".env"))


def test_a_dotenv_line_without_a_value_goes_to_the_model() -> None:
    Path(".env").write_text("ROTATION_OVERLAP\n", encoding="utf-8")
    assert read_quickly(read_variables(".env"), {}) is None
    assert load_settings_quickly(".env") == load_settings(".env")


def test_a_flag_wins_and_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTATION_DB", "/no/such/folder/r.db")
    assert read_quickly(read_variables(None), {"db_path": "ok.db"}).db_path == Path("ok.db")
    with pytest.raises(ConfigError) as refused:
        load_settings_quickly(None, db_path="/nowhere/r.db")
    assert refused.value.lines == [
        "config error: --db: the directory '/nowhere' does not exist (create it, or fix the path)"
    ]


def test_quick_settings_are_frozen_and_copy_like_the_model() -> None:
    quick = read_quickly({}, {})
    with pytest.raises(TypeError):
        quick.fetch_retries = 1  # type: ignore[misc]
    copy = quick.model_copy(update={"rules_path": Path("x.toml")})
    assert (copy.rules_path, quick.rules_path, copy.fetch_retries) == (Path("x.toml"), None, 4)


def _bounds(name: str) -> list[str]:
    """Texts at and just past a numeric field's bounds, as the model declares them."""
    texts = []
    for constraint in Settings.model_fields[name].metadata:
        for kind in ("ge", "gt", "le"):
            bound = getattr(constraint, kind, None)
            if bound is not None:
                texts += [str(bound), str(bound + 1), str(bound - 1), f"{bound}.5", f"{bound}.0"]
    return texts


GENERIC = ["0", "1", "-1", "007", "1e3", " 5", "abc", "Off", "http", "JSON", "17:30", "a,b"]


def test_no_value_is_read_differently_from_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every field, given tricky texts and its bounds: a text the quick reader takes, the model
    takes too, with the same value. A round sets every field at once; the model's error lines
    name the refused ones, which a second reading leaves out."""
    candidates = {name: GENERIC + _bounds(name) for name in FIELDS}
    for round_ in range(max(len(texts) for texts in candidates.values())):
        given = {name: texts[round_] for name, texts in candidates.items() if round_ < len(texts)}
        for name, text in given.items():
            monkeypatch.setenv(FIELDS[name][0], text)
        try:
            load_settings(None)
            refused: set[str] = set()
        except ConfigError as error:
            refused = {line.split(": ")[1] for line in error.lines}
        for variable in refused:
            monkeypatch.delenv(variable)
        model = load_settings(None)
        for name, text in given.items():
            variable, _default, read = FIELDS[name]
            try:
                mine = read(text)
            except ValueError:
                continue  # handed to the model, whatever it says
            assert variable not in refused, (variable, text)
            theirs = getattr(model, name)
            if hasattr(theirs, "get_secret_value"):
                assert mine.get_secret_value() == theirs.get_secret_value()
            else:
                assert (type(mine), mine) == (type(theirs), theirs), (variable, text)
