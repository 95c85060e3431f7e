#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Python packages and Debian's chromium), lints, runs pytest.
# Usage: scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
.venv/bin/ruff check .
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
