"""Clients generated from the served OpenAPI document, run against the real API and worker.

Every command and example comes from docs/clients.md (the blocks marked
``<!-- snippet: NAME -->``), so the documentation cannot drift from what works. Python:
openapi-python-client (a dev dependency; ``python-install`` is therefore not run).
TypeScript: openapi-typescript, TypeScript and Node's types are installed with npm into a
cache directory kept between runs (``FOLIO_NPM_DIR``); the test skips, saying why, when
Node or npm is missing or the install fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from conftest import TEST_API_KEY
from testsupport.procs import BIN, ROOT, folio_stack

pytestmark = [pytest.mark.slow, pytest.mark.corpus]

DOC = ROOT / "docs" / "clients.md"
SNIPPET = re.compile(r"<!-- snippet: (?P<name>[\w-]+) -->\n```\w*\n(?P<body>.*?)```", re.S)
#: A corpus PDF of four pages (the one the issue's generated client broke on).
PDF = "pdflatex-4-pages.pdf"
#: What both examples ask for (the multipart job by field, the raw one by query
#: parameter) and the pages they must then get.
EXPECTED_PAGES = (("1-2", [1, 2]), ("3", [3]))
NPM_DIR = Path(os.environ.get("FOLIO_NPM_DIR", Path.home() / ".cache" / "folio" / "npm-clients"))


def snippets() -> dict[str, str]:
    found = {m["name"]: m["body"] for m in SNIPPET.finditer(DOC.read_text())}
    assert found, f"no snippets in {DOC}"
    return found


@pytest.fixture(scope="module")
def base_url(env, tmp_path_factory):
    with folio_stack(env, tmp_path_factory.mktemp("client-services")) as base:
        yield base


@pytest.fixture
def client_env(base_url, corpus) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "FOLIO_API_URL": base_url,
        "FOLIO_API_KEY": TEST_API_KEY,
        "FOLIO_PDF": str(corpus / PDF),
    }


def sh(script: str, cwd: Path, env: dict[str, str], timeout: float = 300):
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{script}\n{done.stdout}\n{done.stderr}"
    return done


def assert_no_warning(output: str) -> None:
    assert "warn" not in output.lower() and "unsupported" not in output.lower(), output


def check_run(stdout: str, base_url: str, pdf: Path) -> None:
    """Both examples print the same lines; check them, and the jobs behind them."""
    lines = stdout.splitlines()
    assert len(lines) == 7, stdout
    for n, (asked, expected_pages) in enumerate(EXPECTED_PAGES):
        job_line, json_line, text_line = lines[3 * n : 3 * n + 3]
        _, job_id, status, filename = job_line.split()
        assert (status, filename) == ("succeeded", PDF), job_line
        match = re.fullmatch(r"json (\[.*\]) (\S+) (.+)", json_line)
        assert match, json_line
        assert json.loads(match[1]) == expected_pages
        assert (match[2], match[3]) == ("4", "pdfTeX-1.40.23")  # typed metadata
        assert text_line == f"text {len(expected_pages)} pages"
        job = requests.get(
            f"{base_url}/api/v1/jobs/{job_id}",
            headers={"Authorization": f"Bearer {TEST_API_KEY}"},
            timeout=10,
        ).json()
        assert job["pages"] == asked
        assert job["size_bytes"] == pdf.stat().st_size  # bytes sent as bytes, not as text
    assert lines[6] == "problem 404 not_found"


def test_python_client(client_env, base_url, tmp_path):
    code = snippets()
    (tmp_path / "folio-client.yaml").write_text(code["python-config"])
    generated = sh(code["python-generate"], tmp_path, client_env)
    assert_no_warning(generated.stdout + generated.stderr)
    assert (tmp_path / "folio_client" / "api" / "default" / "create_job.py").exists()

    (tmp_path / "example.py").write_text(code["python-example"])
    run = sh(f'"{BIN / "python"}" example.py', tmp_path, client_env)
    check_run(run.stdout, base_url, Path(client_env["FOLIO_PDF"]))


@pytest.fixture
def node_modules(client_env) -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed for the TypeScript client")
    NPM_DIR.mkdir(parents=True, exist_ok=True)
    install = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", snippets()["typescript-install"]],
        cwd=NPM_DIR,
        env=client_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if install.returncode != 0:
        pytest.skip(f"npm could not install the TypeScript tools: {install.stderr[-500:]}")
    return NPM_DIR / "node_modules"


def test_typescript_client(client_env, base_url, node_modules, tmp_path):
    code = snippets()
    (tmp_path / "node_modules").symlink_to(node_modules)
    generated = sh(code["typescript-generate"], tmp_path, client_env)
    assert_no_warning(generated.stdout + generated.stderr)
    assert "createJob" in (tmp_path / "folio-api.d.ts").read_text()

    (tmp_path / "tsconfig.json").write_text(code["typescript-tsconfig"])
    (tmp_path / "example.ts").write_text(code["typescript-example"])
    sh("npx tsc", tmp_path, client_env)  # type-checks the example against the types
    run = sh("node example.js", tmp_path, client_env)
    check_run(run.stdout, base_url, Path(client_env["FOLIO_PDF"]))
