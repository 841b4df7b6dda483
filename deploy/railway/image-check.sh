#!/usr/bin/env bash
# Runs the two images the way Railway does, against the local PostgreSQL and Redis:
# the pre-deploy migration in both images, the worker, the API, one real job through
# them, the worker's liveness command, then a graceful stop. `make image-check`.
#
# Needs: images folio-api and folio-worker (`make image`), PostgreSQL on 127.0.0.1:5432
# (user postgres, trust) and Redis on 127.0.0.1:6379. Uses the database folio_image_check
# (recreated) and the Redis namespace folio-image-check. Override with PG_ADMIN_URL,
# REDIS_URL, PORT. Podman flags are the ones that work in a rootful sandbox without
# systemd; on a workstation plain `podman run` works too.
set -euo pipefail

PG_ADMIN_URL=${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
PORT=${PORT:-18080}
DB=folio_image_check
KEY=image-check-key-0123456789
PDF=${PDF:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

run=(podman --runtime runc run --rm --network host
     --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 --no-healthcheck
     -e FOLIO_ENV=production
     -e "DATABASE_URL=${PG_ADMIN_URL%/*}/$DB"
     -e DB_SSLMODE=disable
     -e "REDIS_URL=$REDIS_URL"
     -e REDIS_NAMESPACE=folio-image-check
     -e "API_KEYS=check:$KEY"
     -e "PORT=$PORT"
     -e WORKER_PROCESSES=1 -e WORKER_THREADS=2
     -e DB_POOL_SIZE=3 -e DB_MAX_OVERFLOW=1)

step() { printf '\n==> %s\n' "$*"; }
cleanup() {
  podman stop -t 90 folio-check-api folio-check-worker >/dev/null 2>&1 || true
  rm -f "$tmp_pdf"
}
tmp_pdf=$(mktemp --suffix=.pdf)
trap cleanup EXIT

step "recreate database $DB"
psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" \
  2>&1 | grep -v NOTICE || true

step "pre-deploy (API image, then worker image): folio-migrate apply && folio-migrate verify"
"${run[@]}" folio-api /bin/sh -c "folio-migrate apply && folio-migrate verify"
"${run[@]}" folio-worker /bin/sh -c "folio-migrate apply && folio-migrate verify"

step "start the worker and the API (detached)"
"${run[@]}" -d --name folio-check-worker folio-worker >/dev/null
"${run[@]}" -d --name folio-check-api folio-api >/dev/null

step "wait for GET /api/v1/health to answer 200 (Railway's health check)"
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$PORT/api/v1/health" 2>/dev/null; then echo; break; fi
  sleep 1
done
curl -fsS "http://127.0.0.1:$PORT/api/v1/health" >/dev/null

step "submit a PDF and wait for the job to finish"
if [[ -z "$PDF" ]]; then
  (cd "$root" && "${PYTHON:-.venv/bin/python}" -c \
    "import sys; from testsupport.pdfs import make_pdf; sys.stdout.buffer.write(make_pdf(3))") >"$tmp_pdf"
  PDF=$tmp_pdf
fi
auth="Authorization: Bearer $KEY"
job=$(curl -fsS -H "$auth" -H "Content-Type: application/pdf" --data-binary "@$PDF" \
  "http://127.0.0.1:$PORT/api/v1/jobs")
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$job")
status=
for _ in $(seq 1 6); do
  status=$(curl -fsS -H "$auth" -H "Prefer: wait=10" "http://127.0.0.1:$PORT/api/v1/jobs/$id" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
  [[ $status == succeeded || $status == failed ]] && break
done
echo "job $id: $status"
[[ $status == succeeded ]]
curl -fsS -H "$auth" "http://127.0.0.1:$PORT/api/v1/jobs/$id/result" | head -c 300; echo

step "worker liveness without HTTP: folio-worker healthcheck"
podman exec folio-check-worker folio-worker healthcheck

step "graceful stop (SIGTERM, as Railway's draining sends)"
start=$(date +%s)
podman stop -t 90 folio-check-worker folio-check-api >/dev/null
echo "stopped in $(( $(date +%s) - start ))s"

step "image sizes"
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E 'folio-(api|worker)'
echo "image check passed"
