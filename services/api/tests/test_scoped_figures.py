"""``/stats`` and ``/metrics`` are scoped: a tenant key sees its own jobs' figures only;
fleet-wide figures need a key named in OPERATOR_KEYS or METRICS_TOKEN."""

from __future__ import annotations

from conftest import OTHER_API_KEY, TEST_API_KEY
from folio_common.errors import ErrorCode
from folio_common.lifecycle import JobStatus
from testsupport.metrics import parse, series, value

METRICS_TOKEN = "metrics-token-0123456789"


def test_a_tenant_sees_only_its_own_jobs(make_api):
    # "tester" is the operator here (OPERATOR_KEYS); "other" is a plain tenant.
    api = make_api(METRICS_TOKEN=METRICS_TOKEN, OPERATOR_KEYS="tester")
    for _ in range(3):
        api.new_job(TEST_API_KEY)
    failed = api.new_job(TEST_API_KEY)
    api.end(failed, JobStatus.FAILED, (ErrorCode.INVALID_PDF, "broken"))
    api.new_job(OTHER_API_KEY)

    tenant = api.get("/api/v1/stats", key=OTHER_API_KEY).json
    assert tenant["jobs"]["queued"] == 1
    assert tenant["jobs"]["failed"] == 0 and tenant["failures"] == {}
    assert tenant["queues"] is None and tenant["workers"]["alive"] is None

    operator = api.get("/api/v1/stats", key=TEST_API_KEY).json
    assert operator["jobs"]["queued"] == 4
    assert operator["failures"] == {ErrorCode.INVALID_PDF.value: 1}
    assert operator["queues"] is not None

    tenant_metrics = parse(api.get("/api/v1/metrics", key=OTHER_API_KEY).text)
    assert value(tenant_metrics, "folio_jobs", status="queued") == 1
    assert series(tenant_metrics, "folio_jobs_failed") == []
    # Nothing fleet-wide: no queues, workers, HTTP or pool figures.
    for name in ("folio_queue_depth", "folio_workers_alive", "folio_http_requests_total"):
        assert series(tenant_metrics, name) == [], name

    for key in (TEST_API_KEY, METRICS_TOKEN):
        fleet = parse(api.get("/api/v1/metrics", key=key).text)
        assert value(fleet, "folio_jobs", status="queued") == 4
        assert value(fleet, "folio_jobs_failed", error_code=ErrorCode.INVALID_PDF.value) == 1
        assert series(fleet, "folio_queue_depth") != []


def test_without_operator_keys_every_key_is_a_tenant(make_api):
    api = make_api(OPERATOR_KEYS="")
    api.new_job(TEST_API_KEY)
    assert api.get("/api/v1/stats", key=OTHER_API_KEY).json["jobs"]["queued"] == 0
    assert api.get("/api/v1/stats", key=TEST_API_KEY).json["queues"] is None
