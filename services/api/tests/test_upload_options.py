"""Every upload option is honoured, or refused with a 422 naming it, in both upload forms.

Generated clients offer the query options alongside a multipart body, so an option sent in
the query string of a multipart upload must count exactly as the same multipart field.
"""

from __future__ import annotations

import pytest
from testsupport.pdfs import make_pdf

from folio_api.uploads import OPTION_FIELDS

#: Per option: a valid value, what the API then shows (None: nothing to show, e.g. the
#: password), and an invalid value.
OPTIONS = {
    "engine": ("pdfium", "pdfium", "tesseract"),
    "pages": ("2-3", "2-3", "0-3"),
    "password": ("s3cret", None, "bad\x00password"),
    "callback_url": ("https://example.com/hook", "https://example.com/hook", "ftp://x/y"),
    "ocr": ("force", "force", "sometimes"),
    "languages": ("eng", "eng", "eng+tlh"),  # tlh (Klingon) is a valid code, not installed
}
#: The three ways an option can arrive.
FORMS = ("multipart field", "multipart query", "raw query")


def upload(api, form: str, options: dict[str, str]):
    pdf = make_pdf(3)
    if form == "multipart field":
        return api.submit(pdf, fields=options)
    if form == "multipart query":
        return api.submit(pdf, params=options)
    return api.submit_raw(pdf, options)


def test_the_cases_cover_every_option(api):
    assert set(OPTIONS) == set(OPTION_FIELDS)
    assert api.settings.default_engine != OPTIONS["engine"][0]  # else honouring is unseen


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_a_valid_option_is_honoured(api, form, name):
    value, shown, _ = OPTIONS[name]
    result = upload(api, form, {name: value})
    assert result.status_code == 202, result.text
    job = api.job(result.json["id"])
    if name == "password":
        assert job.options.password == value  # for the worker, never shown
        assert value not in result.text
    else:
        assert result.json[name] == shown
    if name == "pages":
        assert job.options.pages == value
    if name == "engine":
        assert job.engine == value
    if name == "callback_url":
        assert job.callback_url == value
    if name == "ocr":
        assert job.options.ocr_mode == value
    if name == "languages":
        assert job.options.languages == value


def test_a_job_without_ocr_options_is_auto_with_the_default_languages(api):
    result = upload(api, "multipart field", {})
    assert (result.json["ocr"], result.json["languages"]) == ("auto", None)
    assert api.job(result.json["id"]).options.to_json() == {}  # stored as before issue 14


def test_a_language_not_installed_is_named_with_those_that_are(api):
    result = upload(api, "raw query", {"languages": "eng+tlh"})
    assert result.status_code == 422
    assert "tlh" in result.json["detail"]
    assert api.settings.ocr_languages.split("+")[0] in result.json["detail"]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_an_invalid_option_is_422_naming_it(api, form, name):
    _, _, bad = OPTIONS[name]
    result = upload(api, form, {name: bad})
    assert result.status_code == 422, result.text
    assert (result.json["code"], result.json["field"]) == ("validation_error", name)
    assert api.count("jobs") == 0


@pytest.mark.parametrize("form", FORMS)
def test_an_empty_option_is_the_same_as_left_out(api, form):
    # The document declares the query options `allowEmptyValue`: an HTML form or a URL
    # builder sends a field left blank as `name=`.
    names = [*OPTIONS, *(["filename"] if "query" in form else [])]  # a query parameter only
    result = upload(api, form, dict.fromkeys(names, ""))
    assert result.status_code == 202, result.text
    assert result.json["engine"] == api.settings.default_engine
    for name in ("pages", "callback_url", "languages"):
        assert result.json[name] is None, name
    assert result.json["ocr"] == "auto"
    assert api.job(result.json["id"]).options.to_json() == {}


@pytest.mark.parametrize("form", FORMS)
def test_an_unknown_option_is_422_naming_it(api, form):
    result = upload(api, form, {"colour": "blue"})
    assert (result.status_code, result.json["field"]) == (422, "colour")
    assert api.count("jobs") == 0


@pytest.mark.parametrize("form", ["multipart query", "raw query"])
def test_filename_in_the_query_names_the_file(api, form):
    result = upload(api, form, {"filename": "dir/named.pdf"})
    assert result.status_code == 202, result.text
    assert result.json["filename"] == "named.pdf"


def test_query_and_field_must_agree_on_an_option(api):
    pdf = make_pdf(3)
    same = api.submit(pdf, fields={"pages": "1-2"}, params={"pages": "1-2", "engine": "pdfium"})
    assert same.status_code == 202, same.text
    assert (same.json["pages"], same.json["engine"]) == ("1-2", "pdfium")
    differ = api.submit(pdf, fields={"pages": "1-2"}, params={"pages": "3"})
    assert (differ.status_code, differ.json["field"]) == (422, "pages")
    assert "query string" in differ.json["detail"]


def test_an_option_given_twice_is_422(api):
    pdf = make_pdf(1)
    raw = api.submit_raw(pdf, {"pages": ["1", "2"]})
    assert (raw.status_code, raw.json["field"]) == (422, "pages")
    query = api.submit(pdf, params={"engine": ["pdfium", "pdfminer"]})
    assert (query.status_code, query.json["field"]) == (422, "engine")
    boundary = "twice"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="pages"\r\n\r\n1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="pages"\r\n\r\n2\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf
        + f"\r\n--{boundary}--\r\n".encode()
    )
    twice = api.request(
        "POST",
        "/api/v1/jobs",
        body=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert (twice.status_code, twice.json["field"]) == (422, "pages")
    assert api.count("jobs") == 0
