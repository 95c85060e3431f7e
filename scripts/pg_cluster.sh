#!/usr/bin/env bash
# Start a throw-away PostgreSQL + PostGIS cluster on loopback for the tests; prints its URL.
# Usage: scripts/pg_cluster.sh start|stop   (data in ${QUHUA_PG_DIR:-/tmp/quhua-pg}, port ${QUHUA_PG_PORT:-54329})
set -euo pipefail
dir="${QUHUA_PG_DIR:-/tmp/quhua-pg}"
port="${QUHUA_PG_PORT:-54329}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -n "$bin" ] || { echo "PostgreSQL is not installed (apt-get install postgresql-15 postgresql-15-postgis-3)" >&2; exit 2; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "${1:-start}" in
  start)
    if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      rm -rf "$dir"; mkdir -p "$dir"
      [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
      as_pg "$bin/initdb" -D "$dir" -U quhua --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
      as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c fsync=off -c max_connections=200" \
        start >/dev/null
    fi
    echo "postgresql://quhua@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_pg "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null 2>&1 || true
    ;;
esac
