"""Security properties of the whole route table (test_auth.py covers the job routes one by
one; test_jobs.py covers another owner's job being 404 everywhere): no route added later
can be open by accident, and no answer echoes a key."""

from __future__ import annotations

import re

import falcon.inspect
from conftest import OTHER_API_KEY, TEST_API_KEY

#: Routes served without an API key (``/api/v1/metrics`` checks its own token).
OPEN = {
    "/",
    "/api/v1/health",
    "/api/v1/health/live",
    "/api/v1/openapi.json",
    "/api/v1/docs",
    "/api/v1/metrics",
}
JOB_ID = "00000000-0000-4000-8000-000000000000"


def concrete(template: str) -> str:
    path = re.sub(r"\{job_id[^}]*\}", JOB_ID, template)
    return re.sub(r"\{[^}]+\}", "1", path)


def routes(api) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = []
    for route in falcon.inspect.inspect_routes(api.client.app):
        for method in route.methods:
            if method.internal or method.method in ("OPTIONS",):
                continue
            found.append((method.method, route.path))
    return found


def test_every_route_but_the_open_ones_needs_a_key(api):
    checked = 0
    for method, template in routes(api):
        path = concrete(template)
        result = api.client.simulate_request(method, path, headers={"Authorization": "Bearer x"})
        if template in OPEN:
            assert result.status_code != 500, (method, template)
            continue
        assert result.status_code == 401, (method, template, result.status_code)
        checked += 1
    assert checked >= 6


def test_metrics_without_a_key_or_token_is_refused(api):
    result = api.client.simulate_get("/api/v1/metrics")
    assert result.status_code in (401, 403, 404), result.status_code


def test_no_answer_echoes_a_key(api):
    job_id = api.new_job()
    for method, template in routes(api):
        path = concrete(template).replace(JOB_ID, job_id)
        for key in (TEST_API_KEY, OTHER_API_KEY):
            result = api.client.simulate_request(
                method, path, headers={"Authorization": f"Bearer {key}"}
            )
            assert TEST_API_KEY not in result.text and OTHER_API_KEY not in result.text, path
