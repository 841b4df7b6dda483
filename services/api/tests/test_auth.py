"""Bearer API keys: 401 without one, open health and docs, the local development key."""

from __future__ import annotations

from folio_api.auth import DEV_KEY, owner_for

PROTECTED = [
    ("GET", "/api/v1/jobs"),
    ("POST", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/00000000-0000-0000-0000-000000000000"),
    ("DELETE", "/api/v1/jobs/00000000-0000-0000-0000-000000000000"),
    ("GET", "/api/v1/jobs/00000000-0000-0000-0000-000000000000/result"),
    ("GET", "/api/v1/jobs/00000000-0000-0000-0000-000000000000/pages/1"),
]


def test_every_job_route_needs_a_key(api):
    for method, path in PROTECTED:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-key-0123456789"},
            {"Authorization": "Basic dGVzdDp0ZXN0"},
            {"Authorization": "Bearer"},
        ):
            result = api.request(method, path, key=None, headers=headers)
            assert result.status_code == 401, (method, path, headers)
            assert result.json["code"] == "unauthorized"
            assert result.headers["www-authenticate"].startswith("Bearer")


def test_health_and_docs_are_open(api):
    for path in (
        "/api/v1/health",
        "/api/v1/health/live",
        "/api/v1/openapi.json",
        "/api/v1/docs",
    ):
        assert api.get(path, key=None).status_code == 200, path


def test_dev_key_works_only_without_configured_keys(make_api):
    open_api = make_api(API_KEYS="")
    result = open_api.submit(key=DEV_KEY)
    assert result.status_code == 202
    assert open_api.job(result.json["id"]).owner == "local"
    configured = make_api()
    assert configured.get("/api/v1/jobs", key=DEV_KEY).status_code == 401


def test_owner_lookup_compares_every_key():
    keys = {"a" * 20: "alice", "b" * 20: "bob"}
    assert owner_for(keys, "b" * 20) == "bob"
    assert owner_for(keys, "b" * 19) is None
    assert owner_for(keys, "") is None
