"""The OCR options and settings: modes, language lists, defaults among the installed."""

from __future__ import annotations

import pytest
from folio_common.options import OCR_MODES, JobOptions, parse_languages
from folio_common.settings import Settings, SettingsError


def test_a_job_without_ocr_options_is_auto_and_stored_as_before() -> None:
    options = JobOptions(pages="1-2")
    assert options.ocr_mode == "auto" and options.to_json() == {"pages": "1-2"}
    forced = JobOptions.from_json({"ocr": "force", "languages": "eng+fra"})
    assert (forced.ocr_mode, forced.languages) == ("force", "eng+fra")
    assert set(OCR_MODES) == {"auto", "force", "off"}


@pytest.mark.parametrize("bad", ["", "eng fra", "eng++fra", "+eng", "eng;rm", "é"])
def test_languages_are_plus_joined_codes(bad: str) -> None:
    assert parse_languages("eng+chi_sim") == ["eng", "chi_sim"]
    with pytest.raises(ValueError):
        parse_languages(bad)


def test_the_default_languages_must_be_installed_ones() -> None:
    settings = Settings.from_env({"OCR_LANGUAGES": "eng+fra", "OCR_DEFAULT_LANGUAGES": "fra"})
    assert (settings.ocr_languages, settings.ocr_default_languages) == ("eng+fra", "fra")
    with pytest.raises(SettingsError, match="OCR_DEFAULT_LANGUAGES"):
        Settings.from_env({"OCR_LANGUAGES": "eng", "OCR_DEFAULT_LANGUAGES": "deu"})
    with pytest.raises(SettingsError, match="OCR_LANGUAGES"):
        Settings.from_env({"OCR_LANGUAGES": "eng fra"})
