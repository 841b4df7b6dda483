#!/usr/bin/env bash
# Start a PgBouncer in transaction mode in front of the local PostgreSQL: the stand-in for
# Supabase's Supavisor (port 6543), so the tests that start the API and the worker prove
# no code relies on session state (prepared statements, SET, advisory locks, temp tables).
#
#   .ci/pgbouncer.sh start [PORT]   prints the URL to put in FOLIO_TEST_PG_POOLER
#   .ci/pgbouncer.sh stop
#
# Only `extra_float_digits` is ignored among startup parameters, as Supavisor does; any
# other (e.g. `options=-c statement_timeout=…`) is refused, which is the point.
set -euo pipefail
dir=${FOLIO_PGBOUNCER_DIR:-/tmp/folio-pgbouncer}
port=${2:-6432}
case "${1:-start}" in
start)
  if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    timeout 300 apt-get update -qq && timeout 300 apt-get install -y -qq pgbouncer >/dev/null
  fi
  bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
  mkdir -p "$dir"
  printf '"postgres" ""\n' >"$dir/users.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
ignore_startup_parameters = extra_float_digits
max_client_conn = 1000
default_pool_size = 40
server_reset_query =
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
  # PgBouncer refuses to run as root; the postgres user owns nothing else here.
  user=()
  [ "$(id -u)" = 0 ] && user=(-u postgres) && chown -R postgres "$dir"
  "$bin" -d "${user[@]}" "$dir/pgbouncer.ini"
  for _ in $(seq 1 50); do
    pg_isready -h 127.0.0.1 -p "$port" -q 2>/dev/null && break
    sleep 0.1
  done
  echo "postgresql://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  [ -f "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
  ;;
esac
