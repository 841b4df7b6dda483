"""The front door's settings: limits may be 0 (off) but not negative; operators by name."""

from __future__ import annotations

import pytest
from folio_common.settings import Settings, SettingsError


@pytest.mark.parametrize(
    "variable",
    [
        "MAX_WAITS",
        "MAX_WAITS_PER_KEY",
        "RATE_LIMIT_PER_MINUTE",
        "MAX_CONCURRENT_UPLOADS",
        "MAX_JOBS_IN_FLIGHT",
        "MAX_STORED_MB",
    ],
)
def test_a_negative_limit_is_refused_and_zero_turns_it_off(variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({variable: "-1"})
    assert getattr(Settings.from_env({variable: "0"}), variable.lower()) == 0


def test_header_timeout_must_be_positive() -> None:
    with pytest.raises(SettingsError, match="HEADER_TIMEOUT_S"):
        Settings.from_env({"HEADER_TIMEOUT_S": "0"})


def test_operator_keys_are_names() -> None:
    settings = Settings.from_env({"OPERATOR_KEYS": " ops , admin,,"})
    assert settings.operator_keys == frozenset({"ops", "admin"})
    assert Settings.from_env({}).operator_keys == frozenset()
