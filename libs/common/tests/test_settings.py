"""Settings: defaults, validation that names the variable, and no secret in any message."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from folio_common.settings import Settings, SettingsError, describe

SECRET = "hunter2-s3cr3t"


def test_every_default_loads_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    for f in dataclasses.fields(Settings):
        assert getattr(settings, f.name) is not None, f.metadata["env"]
    assert settings.env == "development"
    assert settings.db_pool_size == 8
    assert settings.api_keys == {}
    assert settings.worker_processes >= 1
    assert str(settings.database().drivername) == "postgresql+psycopg2"


def test_every_variable_is_described_once() -> None:
    names = [name for name, _, _ in describe()]
    assert len(names) == len(set(names)) == len(dataclasses.fields(Settings))
    assert all(doc for _, _, doc in describe())


def test_non_numeric_pool_size_names_the_variable_and_the_value() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DB_POOL_SIZE": "abc"})
    assert caught.value.variable == "DB_POOL_SIZE"
    assert "DB_POOL_SIZE" in str(caught.value)
    assert "'abc'" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        f"not a url {SECRET}",
        f"mysql://admin:{SECRET}@db.example.com/folio",
        f"postgresql://admin:{SECRET}@db.example.com:54x32/folio",
        f"postgresql://admin:{SECRET}@db.example.com:5432",
        # An unescaped '@' in the password: the "port" SQLAlchemy sees is part of the secret.
        f"postgresql://admin:a@{SECRET}:{SECRET}@db.example.com/folio",
    ],
)
def test_malformed_database_url_names_variable_without_echoing_secret(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"DATABASE_URL": url})
    assert caught.value.variable == "DATABASE_URL"
    message = str(caught.value)
    assert message.startswith("invalid setting DATABASE_URL:")
    assert SECRET not in message
    assert "admin" not in message
    assert "\n" not in message


def test_secret_api_keys_are_not_echoed() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"API_KEYS": f"{SECRET}-short"})
    assert caught.value.variable == "API_KEYS"
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg2"])
def test_postgres_schemes_map_to_psycopg2(scheme: str) -> None:
    settings = Settings.from_env({"DATABASE_URL": f"{scheme}://u:{SECRET}@db.example.com/x"})
    url = settings.database()
    assert url.drivername == "postgresql+psycopg2"
    assert (url.host, url.database, url.password) == ("db.example.com", "x", SECRET)


@pytest.mark.parametrize("missing", ["API_KEYS", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_required_variables(missing: str) -> None:
    environ = {
        "FOLIO_ENV": "production",
        "API_KEYS": "prod:0123456789abcdef0123",
        "DATABASE_URL": "postgresql://u@db.example.com/folio",
        "REDIS_URL": "redis://redis.example.com:6379/0",
    }
    assert Settings.from_env(environ).env == "production"
    del environ[missing]
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    assert caught.value.variable == missing
    assert "FOLIO_ENV=production" in str(caught.value)


def test_non_positive_and_negative_values_are_refused() -> None:
    with pytest.raises(SettingsError, match="DB_POOL_SIZE"):
        Settings.from_env({"DB_POOL_SIZE": "0"})
    with pytest.raises(SettingsError, match="DB_MAX_OVERFLOW"):
        Settings.from_env({"DB_MAX_OVERFLOW": "-1"})
    with pytest.raises(SettingsError, match="REDIS_TLS"):
        Settings.from_env({"REDIS_TLS": "maybe"})


def test_secrets_lists_passwords_keys_and_webhook_secret() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": f"postgresql://u:{SECRET}@h/d",
            "REDIS_URL": "rediss://:redis-pass-123@h:6380/0",
            "API_KEYS": "a:0123456789abcdefXYZ",
            "WEBHOOK_SECRET": "whsec_abcdefgh",
        }
    )
    assert set(settings.secrets()) == {
        SECRET,
        "redis-pass-123",
        "0123456789abcdefXYZ",
        "whsec_abcdefgh",
    }


def _load_in_subprocess(extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, "-c", "from folio_common.settings import load_settings; load_settings()"],
        check=False,
        env={**environ, **extra},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow  # runs the entry point in a subprocess
@pytest.mark.parametrize(
    ("variable", "value"),
    [("DB_POOL_SIZE", "abc"), ("DATABASE_URL", f"postgresql://admin:{SECRET}@h:port/db")],
)
def test_load_settings_exits_2_with_one_json_line(variable: str, value: str) -> None:
    proc = _load_in_subprocess({variable: value})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    line = json.loads(lines[0])
    assert line["level"] == "error"
    assert line["variable"] == variable
    assert variable in line["message"]
    assert SECRET not in proc.stdout + proc.stderr
