#!/usr/bin/env bash
# Install quhua into .venv on a fresh Debian 12 (or any machine with Python >= 3.11).
# Usage: scripts/install.sh [run|test|bench]   (test also installs what the test suite needs; bench also
# the peers scripts/bench_check.py measures against: gdal-bin's ogr2ogr, PostGIS and GRASS)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-run}"

apt_packages=()
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_packages+=(python3-venv python3-pip)
# the CJK font of the printed maps (webmap/printmap.py, PNG/PDF export) and of the browser tests' screenshots
ls /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc >/dev/null 2>&1 || apt_packages+=(fonts-noto-cjk)
if [ "$what" = test ]; then
  command -v chromium >/dev/null || apt_packages+=(chromium chromium-driver)
  /usr/bin/python3 -c 'import qgis.core' 2>/dev/null || apt_packages+=(qgis python3-qgis)  # tests/webmap/test_ogc_qgis.py
  ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 \
    || apt_packages+=(postgresql-15 postgresql-15-postgis-3)
fi
if [ "$what" = bench ]; then
  command -v ogr2ogr >/dev/null || apt_packages+=(gdal-bin)
  command -v grass >/dev/null || apt_packages+=(grass-core)
  ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 \
    || apt_packages+=(postgresql-15 postgresql-15-postgis-3)
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing Debian packages: ${apt_packages[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >&2
extras="demo,print"; [ "$what" = test ] && extras="demo,print,test,distributed"
[ "$what" = bench ] && extras="demo,print,distributed"  # scripts/bench_dask.py
.venv/bin/python -m pip install -q -e ".[$extras]" >&2
# the bytecode of quhua's own modules, as pip writes it for an installed package but not for an editable one:
# where the environment sets PYTHONDONTWRITEBYTECODE (containers, CI) Python never caches it and compiles
# these modules at every start (22 of them for a check: 0.06 s of a county-network `quhua check`, 1.29 →
# 1.22 s); a module edited afterwards is compiled again in memory, as without the cache
.venv/bin/python -m compileall -q -j 0 boundaries placenames webmap >&2
