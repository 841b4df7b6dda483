"""The OpenAPI document matches the app: same routes and methods, documented statuses."""

from __future__ import annotations

import json
import re

from falcon.inspect import inspect_routes

from folio_api.openapi import document

SPEC = document()


def _normalise(template: str) -> str:
    """``/jobs/{job_id:uuid}`` → ``/jobs/{job_id}``."""
    return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", template)


def test_every_route_and_method_is_documented(api):
    served = {
        _normalise(route.path): {m.method.lower() for m in route.methods if not m.internal}
        for route in inspect_routes(api.client.app)
    }
    documented = {path: set(item) for path, item in SPEC["paths"].items()}
    assert served == documented


def test_path_parameters_are_documented():
    for path, item in SPEC["paths"].items():
        names = set(re.findall(r"\{(\w+)\}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)


def test_served_document_is_the_spec(api):
    result = api.get("/api/v1/openapi.json", key=None)
    assert result.headers["content-type"] == "application/json"
    doc = json.loads(result.text)
    assert doc["openapi"] == "3.1.0"
    assert doc == json.loads(json.dumps(SPEC))


def test_references_resolve():
    text = json.dumps(SPEC)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', text)):
        assert ref in SPEC["components"]["schemas"], ref


def test_docs_page_is_self_contained(api):
    result = api.get("/api/v1/docs", key=None)
    assert result.headers["content-type"].startswith("text/html")
    assert "openapi.json" in result.text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", result.text)
    assert "http://" not in result.text and "https://" not in result.text


def test_uploads_are_binary_and_options_are_in_both_forms():
    submit = SPEC["paths"]["/api/v1/jobs"]["post"]
    content = submit["requestBody"]["content"]
    upload = SPEC["components"]["schemas"]["Upload"]
    assert content["multipart/form-data"]["schema"] == {"$ref": "#/components/schemas/Upload"}
    for schema in (upload["properties"]["file"], content["application/pdf"]["schema"]):
        assert schema["format"] == "binary"  # generators then send bytes, not text
    options = set(upload["properties"]) - {"file"}
    query = {p["name"] for p in submit["parameters"] if p["in"] == "query"}
    assert options <= query


def test_result_metadata_is_typed():
    result = SPEC["components"]["schemas"]["Result"]
    assert result["properties"]["metadata"] == {"$ref": "#/components/schemas/Metadata"}
    metadata = SPEC["components"]["schemas"]["Metadata"]["properties"]
    assert {"title", "author", "producer", "created", "page_count", "encrypted"} <= set(metadata)
