"""Fuzz the API from its own OpenAPI document (schemathesis): no 500, ever, and every
response — status, headers, body — is what the document says.

Runs against the real app object (WSGI, on the test database and Redis) so it needs no
server; ``FUZZ_EXAMPLES`` sets the examples per operation (default 25: ~300 in all, under
a minute on two cores).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import schemathesis
from conftest import TEST_API_KEY
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig
from testsupport.pdfs import make_pdf

from folio_api.openapi import document

pytestmark = pytest.mark.slow  # Schemathesis sends thousands of requests

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))


@pytest.fixture
def fuzzed_app(make_api):  # type: ignore[no-untyped-def]
    # Short long-polls and pool waits: a fuzzed `Prefer: wait=60` must not stall the run.
    api = make_api(MAX_WAIT_S="1", DB_POOL_TIMEOUT="2")
    api.new_job()  # something to list
    _target.app = api.client.app  # every request, probes included, goes to this app
    return api.client.app


class _AppUnderTest:
    """The WSGI app schemathesis calls: the test's app once the fixture sets it (before
    that, only the document, which schemathesis loads at import)."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.app is not None:
            return self.app(environ, start_response)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(document()).encode()]


_target = _AppUnderTest()

# An uploaded file: a real PDF, the same cut short, or any bytes at all. Schemathesis
# generates no raw `application/pdf` body by itself, and only random bytes (always 415)
# for the multipart `file` part (`format: binary`).
_PDF = make_pdf(2)
_PDFS = st.one_of(st.just(_PDF), st.integers(0, len(_PDF) - 1).map(lambda n: _PDF[:n]), st.binary())
schemathesis.openapi.media_type("application/pdf", _PDFS)
schemathesis.openapi.format("binary", _PDFS)
# The key goes in through the document's own security scheme, so schemathesis knows when
# a negative case leaves it out (and then expects the 401 it gets).
_CONFIG = SchemathesisConfig.from_dict({"auth": {"openapi": {"bearer": {"bearer": TEST_API_KEY}}}})
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _target, config=_CONFIG)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_response_matches_the_document(case, fuzzed_app):  # type: ignore[no-untyped-def]
    case.call_and_validate(
        # The document cannot say "the file must be a PDF" or "pages within the document":
        # a schema-valid upload may rightly be refused (415, 422), so that check is off.
        excluded_checks=[positive_data_acceptance],
    )
