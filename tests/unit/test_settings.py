"""Settings: defaults, environment, TOML file, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrypoints.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_sqlite(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path))
    assert settings.backend == "sqlite"
    env = settings.store_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == str(tmp_path / "cases.sqlite")
    assert settings.index_env()["SQLITE_DBNAME"] == str(tmp_path / "case_index.sqlite")


def test_environment_beats_the_toml_file_and_arguments_beat_both(tmp_path: Path) -> None:
    config = tmp_path / "backoffice.toml"
    config.write_text('rr_note_max_length = 300\ndatabase_url = "memory"\n', encoding="utf-8")
    environ = {"BACKOFFICE_CONFIG": str(config), "BACKOFFICE_RR_NOTE_MAX_LENGTH": "200"}
    settings = load_settings(environ=environ)
    assert (settings.rr_note_max_length, settings.database_url) == (200, "memory")
    assert load_settings(environ=environ, rr_note_max_length=100).rr_note_max_length == 100


def test_a_postgres_url_becomes_the_libraries_settings() -> None:
    settings = load_settings(
        environ={"BACKOFFICE_DATABASE_URL": "postgresql://app:s%40cret@db.local:6543/backoffice"}
    )
    env = settings.store_env()
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.local", "6543")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("app", "s@cret")
    assert env["POSTGRES_DBNAME"] == "backoffice"


def test_bad_settings_name_the_setting_and_the_source(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="database_url: 'mysql://x' is not sqlite"):
        load_settings(environ={"BACKOFFICE_DATABASE_URL": "mysql://x"}).store_env()
    with pytest.raises(SettingsError, match="rr_note_max_length"):
        load_settings(environ={"BACKOFFICE_RR_NOTE_MAX_LENGTH": "mucho"})
    broken = tmp_path / "broken.toml"
    broken.write_text("rr_note_max_length = \n", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"broken\.toml"):
        load_settings(environ={"BACKOFFICE_CONFIG": str(broken)})
    with pytest.raises(SettingsError, match="needs a database name"):
        load_settings(environ={"BACKOFFICE_DATABASE_URL": "postgresql://h:5432/"}).store_env()
