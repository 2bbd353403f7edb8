"""Settings come from LEDGERDESK_* variables and fail fast with a message naming the variable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ledgerdesk.settings import SettingsError, load_settings


def test_it_defaults_to_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(environ={"LEDGERDESK_DATA_DIR": str(tmp_path)})
    assert settings.is_sqlite
    assert settings.database_url_value == f"sqlite+aiosqlite:///{tmp_path / 'ledgerdesk.db'}"


def test_it_reads_postgres_from_the_environment() -> None:
    url = "postgresql+asyncpg://support@db.internal/ledgerdesk"
    settings = load_settings(environ={"LEDGERDESK_DATABASE_URL": url})
    assert settings.database_url_value == url
    assert not settings.is_sqlite
    assert url not in repr(settings), "secrets must not show in reprs or logs"


def test_it_reads_secrets_from_files(tmp_path: Path) -> None:
    secret_file = tmp_path / "key"
    secret_file.write_text("k" * 40 + "\n")
    settings = load_settings(environ={"LEDGERDESK_SECRET_KEY_FILE": str(secret_file)})
    assert settings.secret_key_value() == "k" * 40


def test_it_names_the_variable_of_a_bad_value() -> None:
    with pytest.raises(SettingsError, match="LEDGERDESK_PORT"):
        load_settings(environ={"LEDGERDESK_PORT": "eighty"})
    with pytest.raises(SettingsError, match="LEDGERDESK_PUBLIC_URL"):
        load_settings(environ={"LEDGERDESK_PUBLIC_URL": "support.example.com"})


def test_it_refuses_production_without_a_secret_key() -> None:
    with pytest.raises(SettingsError, match="LEDGERDESK_SECRET_KEY"):
        load_settings(environ={"LEDGERDESK_ENVIRONMENT": "production"})


def test_it_refuses_a_short_secret_key() -> None:
    with pytest.raises(SettingsError, match="at least 32"):
        load_settings(environ={"LEDGERDESK_SECRET_KEY": "short"})


def test_it_reports_an_unreadable_secret_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SettingsError, match="LEDGERDESK_SECRET_KEY_FILE"):
        load_settings(environ={"LEDGERDESK_SECRET_KEY_FILE": str(missing)})


def test_a_development_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = load_settings(environ={"LEDGERDESK_DATA_DIR": str(tmp_path)})
    first = settings.secret_key_value()
    assert first == settings.secret_key_value()
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_an_unknown_variable_is_named_with_the_setting_it_probably_meant(
    caplog: pytest.LogCaptureFixture,
) -> None:
    env = {
        "LEDGERDESK_SECRET_KEY": "k" * 40,
        "LEDGERDESK_DATABSE_URL": "postgresql+asyncpg://db/ledgerdesk",
        "LEDGERDESK_SOMETHING_ELSE": "1",
        "LEDGERDESK_SECRET_KEY_FILE": "",
        "LEDGERDESK_TEST_POSTGRES_DSN": "postgresql://x",
        "LEDGERDESK_TOOLS_DIR": "tools",
    }
    with caplog.at_level(logging.WARNING, logger="ledgerdesk.settings"):
        load_settings(env)
    warned = [r.getMessage() for r in caplog.records if r.name == "ledgerdesk.settings"]
    assert warned == [
        "LEDGERDESK_DATABSE_URL (did you mean LEDGERDESK_DATABASE_URL?) is not a ledgerdesk "
        "setting and is ignored",
        "LEDGERDESK_SOMETHING_ELSE is not a ledgerdesk setting and is ignored",
    ]
    assert "postgresql" not in " ".join(warned), "values never reach the log"
