#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Python packages; Debian's chromium, PostgreSQL and
# PostGIS), starts a throw-away PostgreSQL cluster, lints, runs pytest on both database backends.
# Usage: scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
# a throw-away PostgreSQL + PostGIS cluster on loopback, so that the tests run on both database backends
QUHUA_TEST_PG="$(bash scripts/pg_cluster.sh start)"
export QUHUA_TEST_PG
trap 'bash scripts/pg_cluster.sh stop' EXIT
.venv/bin/ruff check .
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
