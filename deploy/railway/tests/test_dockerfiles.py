"""What the two Dockerfiles promise, checked statically (building them is ``make image``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BASE = "python:3.12-slim-bookworm"
PACKAGES = {"api": "folio-api", "worker": "folio-worker"}


def stages(name: str) -> list[str]:
    """The Dockerfile's stages, each as its text from its FROM line on."""
    text = (ROOT / f"deploy/railway/Dockerfile.{name}").read_text()
    return re.split(r"^(?=FROM )", text, flags=re.M)[1:]


def instructions(stage: str, keyword: str) -> list[str]:
    joined = stage.replace("\\\n", " ")
    return [line[len(keyword) + 1 :] for line in joined.splitlines() if line.startswith(keyword)]


@pytest.mark.parametrize("name", PACKAGES)
def test_images_are_multi_stage_on_the_slim_base(name: str) -> None:
    text = (ROOT / f"deploy/railway/Dockerfile.{name}").read_text()
    assert f"ARG PYTHON_IMAGE={BASE}" in text
    builder, final = stages(name)
    assert builder.startswith("FROM ${PYTHON_IMAGE} AS builder")
    assert final.startswith("FROM ${PYTHON_IMAGE}\n")


@pytest.mark.parametrize("name", PACKAGES)
def test_builder_installs_only_its_package_from_the_frozen_lock(name: str) -> None:
    builder = stages(name)[0]
    assert "UV_FROZEN=1" in builder
    assert "UV_NO_DEV=1" in builder
    syncs = [i for i in instructions(builder, "RUN") if "uv sync" in i]
    assert len(syncs) == 2
    assert all(f"--package {PACKAGES[name]}" in s for s in syncs)
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1]


@pytest.mark.parametrize("name", PACKAGES)
def test_final_stage_is_non_root_unbuffered_and_carries_the_migrations(name: str) -> None:
    final = stages(name)[1]
    user = instructions(final, "USER")
    assert user and user[-1].split(":")[0] not in ("0", "root")
    env = " ".join(instructions(final, "ENV"))
    assert "PYTHONUNBUFFERED=1" in env
    assert "FOLIO_MIGRATIONS=/app/migrations" in env
    assert "PATH=/opt/venv/bin:$PATH" in env
    assert "migrations /app/migrations" in " ".join(instructions(final, "COPY"))
    assert "COPY --from=builder /opt/venv /opt/venv" in final


@pytest.mark.parametrize("name", PACKAGES)
def test_final_stage_installs_no_toolchain(name: str) -> None:
    final = stages(name)[1]
    for run in instructions(final, "RUN"):
        assert not re.search(r"apt-get|gcc|build-essential|\buv\b|pip install", run), run
    assert "ENTRYPOINT" not in final  # Railway's start command replaces CMD as a whole
