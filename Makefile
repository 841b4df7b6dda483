# Folio's commands. Every target works from a fresh clone with Python 3.11+.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
RUN := $(UV) run --frozen
PYTEST_ARGS ?=

.PHONY: help install tessdata migrate verify test test-fast lint fmt up api worker demo image image-check bench chaos audit clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(UV):
	python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv

install: $(UV) tessdata  ## create .venv from uv.lock (frozen)
	$(UV) sync --frozen --all-packages

# OCR: the tesserocr wheel (in uv.lock) is Tesseract; its language data comes from Debian.
OCR_LANGUAGES ?= eng
TESSDATA_PACKAGES = tesseract-ocr-osd $(addprefix tesseract-ocr-,$(subst +, ,$(OCR_LANGUAGES)))

tessdata:  ## Tesseract language data of OCR_LANGUAGES (Debian: apt-get when missing)
	@missing=""; for p in $(TESSDATA_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; \
	    { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
	      || echo "apt-get failed: OCR needs$$missing" >&2; \
	  else echo "OCR needs$$missing (apt-get install them, or set TESSDATA_PREFIX)" >&2; fi; \
	fi

migrate: install  ## wait for DATABASE_URL, apply pending migrations (no-op when up to date)
	$(RUN) folio-migrate apply

verify: install  ## compare the live schema with what the code expects
	$(RUN) folio-migrate verify

test: install  ## the whole test suite against the local PostgreSQL and Redis
	$(RUN) pytest $(PYTEST_ARGS)

test-fast: install  ## the tests that start no process (under a minute): -m "not slow"
	$(RUN) pytest -m "not slow" $(PYTEST_ARGS)

lint: install  ## ruff and mypy
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

fmt: install  ## format and autofix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

up: install  ## migrate, then run the API and a worker in the foreground (Ctrl-C stops both)
	$(RUN) python scripts/up.py

api: install  ## the API alone, in the foreground, as its container runs it
	$(RUN) folio-api serve

worker: install  ## the worker alone, in the foreground, as its container runs it
	$(RUN) folio-worker run

demo: install  ## submit a PDF to a running Folio and print its text
	$(RUN) python scripts/demo.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache

# ---- container images (deploy/railway/Dockerfile.*; build context = repository root) ----
PODMAN ?= podman
IMAGE_BASE ?= docker.io/library/python:3.12-slim-bookworm
# Builds a local stand-in for IMAGE_BASE where no registry is reachable (see its header).
CONTAINER_BASE ?= $(wildcard ../shared/tools/container-base)

image:  ## build the folio-api and folio-worker images with podman
	@$(PODMAN) image exists $(IMAGE_BASE) || { [ -n "$(CONTAINER_BASE)" ] && $(CONTAINER_BASE); } || true
	$(PODMAN) build --isolation chroot --format docker -f deploy/railway/Dockerfile.api -t folio-api .
	$(PODMAN) build --isolation chroot --format docker -f deploy/railway/Dockerfile.worker -t folio-worker .
	@$(PODMAN) images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'folio-(api|worker)'

image-check: image  ## run the images against local Postgres/Redis: pre-deploy, a job, a stop
	deploy/railway/image-check.sh

bench: install  ## run the benchmarks (figures in bench/results.json; 8-15 minutes)
	$(RUN) python -m bench

# ---- reliability (docs/reliability.md) ----

chaos: install  ## fault-injection suite (tests/chaos, ~5-10 min); writes docs/reliability/chaos-report.json
	CHAOS_REPORT=docs/reliability/chaos-report.json $(RUN) pytest tests/chaos -p no:cacheprovider -s $(PYTEST_ARGS)

audit: install  ## pip-audit of every locked dependency; fails when advisories cannot be fetched
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(UV) export --frozen --no-hashes --no-emit-workspace --all-packages -q -o "$$tmp/requirements.txt"; \
	total=$$(grep -cE '^[a-zA-Z0-9]' "$$tmp/requirements.txt"); \
	$(RUN) pip-audit -r "$$tmp/requirements.txt" --no-deps --disable-pip --progress-spinner off \
		>"$$tmp/out" 2>&1; status=$$?; cat "$$tmp/out"; \
	skipped=$$(grep -c 'could not be audited' "$$tmp/out"); \
	if [ "$$skipped" -gt 0 ]; then \
		echo "audit: INCOMPLETE - $$skipped of $$total packages could not be audited: the advisory service (PyPI's JSON API, or OSV with PIP_AUDIT_VULNERABILITY_SERVICE=osv) is unreachable from here" >&2; \
		exit 3; \
	fi; \
	exit $$status
