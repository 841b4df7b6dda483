"""Every error is problem+json; database trouble is 503 with Retry-After, never 500."""

from __future__ import annotations

import logging
import uuid

import falcon
from testsupport.logs import logged_lines

from folio_api.errors import Problem


def test_unknown_route_and_method_are_problems(api):
    result = api.request("GET", "/api/v1/nothing-here")
    assert (result.status_code, result.json["code"]) == (404, "not_found")
    result = api.request("PUT", "/api/v1/jobs")
    assert result.status_code == 405
    assert result.headers["content-type"] == "application/problem+json"


def test_unhandled_exception_is_a_logged_problem_500(api):
    class Boom:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            raise RuntimeError("kaboom")

    api.client.app.add_route("/boom", Boom())
    with logged_lines(logging.ERROR) as captured:
        result = api.request("GET", "/boom")
    assert result.status_code == 500
    assert result.headers["content-type"] == "application/problem+json"
    assert result.json["code"] == "internal"
    assert "kaboom" not in result.text and "Traceback" not in result.text
    [line] = captured.lines()
    assert line["message"] == "unhandled exception" and line["level"] == "error"
    assert "RuntimeError: kaboom" in line["exception"]


def test_problem_serializer_keeps_extras(api):
    class Teapot:
        def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
            raise Problem(422, "validation_error", "nope", field="x")

    api.client.app.add_route("/teapot", Teapot())
    result = api.request("GET", "/teapot")
    assert result.json == {
        "type": "/api/v1/docs#error-validation_error",
        "title": "422 Unprocessable Entity",
        "status": 422,
        "detail": "nope",
        "code": "validation_error",
        "field": "x",
    }


def test_database_down_is_503_with_retry_after(make_api):
    api = make_api(DATABASE_URL="postgresql://postgres@127.0.0.1:1/folio", DB_CONNECT_TIMEOUT="1")
    for method, path in (
        ("GET", f"/api/v1/jobs/{uuid.uuid4()}"),
        ("GET", "/api/v1/jobs"),
    ):
        result = api.request(method, path)
        assert result.status_code == 503, result.text
        assert result.json["code"] == "unavailable"
        assert result.headers["retry-after"] == "2"
    result = api.submit()
    assert result.status_code == 503
    health = api.get("/api/v1/health", key=None)
    assert health.status_code == 503 and health.json["failing"] == ["postgres"]


def test_pool_exhaustion_is_503_not_500(make_api):
    api = make_api(DB_POOL_SIZE="1", DB_MAX_OVERFLOW="0", DB_POOL_TIMEOUT="0.2")
    held = api.db.engine.connect()  # the only connection
    try:
        result = api.get("/api/v1/jobs")
        assert (result.status_code, result.json["code"]) == (503, "unavailable")
        assert result.headers["retry-after"] == "2"
    finally:
        held.close()
    assert api.get("/api/v1/jobs").status_code == 200


def test_access_line_names_route_status_and_request_id(api):
    job_id = str(uuid.uuid4())
    with logged_lines(logging.INFO) as captured:
        api.get(f"/api/v1/jobs/{job_id}", headers={"X-Request-ID": "trace-me"})
    [line] = captured.lines("folio.api.access")
    assert line["message"] == f"GET /api/v1/jobs/{job_id} 404"
    assert line["route"] == "/api/v1/jobs/{job_id:uuid}"
    assert line["path"] == f"/api/v1/jobs/{job_id}"
    assert line["status"] == 404
    assert line["method"] == "GET"
    assert line["duration_ms"] >= 0
    assert line["request_id"] == "trace-me"


def test_a_submissions_access_line_carries_its_job_id(api):
    with logged_lines(logging.INFO) as captured:
        result = api.submit()
    lines = [line for line in captured.lines() if line["logger"].startswith("folio.api")]
    assert [line["status"] for line in lines] == [202]  # one line per upload
    assert lines[0]["job_id"] == result.json["id"]
