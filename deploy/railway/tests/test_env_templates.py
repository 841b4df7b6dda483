"""Both environment templates name every setting Folio reads, and nothing else."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from folio_common.settings import describe
from railway_sdk import create_railway_context  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[3]
TEMPLATES = {
    "local": ROOT / ".env.example",
    "production": ROOT / "deploy" / "railway" / ".env.production.example",
}
IAC = ROOT / "deploy" / "railway" / "railway.py"
#: ``VAR=value`` or a commented-out ``# VAR=value``.
ASSIGNMENT = re.compile(r"^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$")


def production_literals(service: str) -> dict[str, str]:
    """The literal Folio variables railway.py gives ``service`` in production."""
    spec = importlib.util.spec_from_file_location("folio_railway_iac_env", IAC)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = module.main(create_railway_context(environment="production")).to_graph()
    (node,) = [r for r in graph["resources"] if r["name"] == service]
    return {
        name: value["value"]
        for name, value in node["variables"].items()
        if value["type"] == "literal" and not name.startswith("RAILWAY_")
    }


def assignments(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        match = ASSIGNMENT.match(line)
        if match:
            assert match.group(1) not in found, f"{path.name}: {match.group(1)} twice"
            found[match.group(1)] = match.group(2)
    return found


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_names_every_setting_and_no_other(template: str) -> None:
    names = set(assignments(TEMPLATES[template]))
    settings = {row[0] for row in describe()}
    assert settings - names == set(), f"missing from {template}"
    assert names - settings == set(), f"not a Folio setting in {template}"


def test_local_template_shows_the_defaults_commented_out() -> None:
    lines = TEMPLATES["local"].read_text().splitlines()
    found = assignments(TEMPLATES["local"])
    for variable, default, _ in describe():
        assert f"# {variable}={found[variable]}" in lines, f"{variable} is not commented out"
        if variable != "WORKER_PROCESSES":  # its default is computed: the CPU quota
            assert found[variable] == default, variable


def test_production_template_matches_what_railway_py_declares() -> None:
    found = assignments(TEMPLATES["production"])
    for variable, value in production_literals("api").items():
        if variable not in ("DB_POOL_SIZE", "DB_MAX_OVERFLOW"):  # per service, see below
            assert found[variable] == value, variable
    for variable, value in production_literals("worker").items():
        if variable not in ("DB_POOL_SIZE", "DB_MAX_OVERFLOW"):
            assert found[variable] == value, variable
    # The template's pool lines show the API's numbers and name the worker's.
    assert found["DB_POOL_SIZE"] == production_literals("api")["DB_POOL_SIZE"]
    assert found["DB_MAX_OVERFLOW"] == production_literals("api")["DB_MAX_OVERFLOW"]
