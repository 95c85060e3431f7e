#!/usr/bin/env bash
# The main job: install, build the embedded database from the national demo, serve the map viewer.
# Usage: scripts/run.sh [--port 5000]   (the database is $QUHUA_DB, default quhua-demo.gpkg, rebuilt each run)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh run
export QUHUA_DB="${QUHUA_DB:-quhua-demo.gpkg}"
rm -f "$QUHUA_DB" "$QUHUA_DB-wal" "$QUHUA_DB-shm"
.venv/bin/quhua init
.venv/bin/quhua demo
# demo accounts on this local demo database only (change QUHUA_DEMO_PASSWORD for anything shared)
export QUHUA_PASSWORD="${QUHUA_DEMO_PASSWORD:-quhua-demo}"
.venv/bin/quhua users add official --role official >/dev/null
.venv/bin/quhua users add jiangxi --role surveyor --province 360000 >/dev/null
.venv/bin/quhua users add analyst --role analyst >/dev/null
# officials of two neighbouring provinces: each confirms joint inspection rounds (quhua inspect) for its side
.venv/bin/quhua users add jiangxi-official --role official --province 360000 >/dev/null
.venv/bin/quhua users add hunan-official --role official --province 430000 >/dev/null
echo "demo accounts: official, jiangxi (surveyor of 360000), analyst, jiangxi-official and hunan-official" \
     "(officials of 360000 and 430000) — password: $QUHUA_PASSWORD" >&2
exec .venv/bin/quhua serve --host 127.0.0.1 "$@"
