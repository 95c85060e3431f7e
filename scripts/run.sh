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
exec .venv/bin/quhua serve --host 127.0.0.1 "$@"
