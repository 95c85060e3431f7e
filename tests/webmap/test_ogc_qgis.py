"""QGIS itself (Debian's ``qgis`` + ``python3-qgis``, headless) opens every collection of ``/ogc`` with its
OAPIF provider, which needs the landing page's ``service-desc`` link to the OpenAPI document.

QGIS's Python lives in the system interpreter, not in our venv: the check runs ``/usr/bin/python3`` in a
subprocess against ``quhua serve``. Skipped only when QGIS is not installed (scripts/install.sh test
installs it, so CI runs it)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from boundaries.export import read_any_layer
from boundaries.store import open_store
from tests.webmap.conftest import PASSWORD
from webmap import ogc

SYSTEM_PYTHON = "/usr/bin/python3"

#: Run by the system python: opens each layer as QGIS 3.22's OAPIF provider does, prints what QGIS sees.
QGIS_SCRIPT = r"""
import json, sys
from qgis.core import QgsApplication, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
base, user, password, layers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
seen = {}
for name in layers:
    uri = f"url='{base}' typename='{name}' username='{user}' password='{password}'"
    layer = QgsVectorLayer(uri, name, "OAPIF")
    features = list(layer.getFeatures()) if layer.isValid() else []
    seen[name] = {"valid": layer.isValid(), "count": layer.featureCount(), "read": len(features),
                  "crs": layer.crs().authid(), "fields": layer.fields().names()}  # layer.error() crashes 3.22
print(json.dumps(seen), flush=True)
app.exitQgis()
"""


def _qgis_available() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    return subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _qgis_available(), reason="QGIS is not installed (apt-get install qgis "
                                "python3-qgis, as scripts/install.sh test does)")


def test_qgis_opens_every_collection(server, web_db, tmp_path):
    layers = ogc.available_collections()
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(runtime), HOME=str(tmp_path))
    env.pop("PYTHONPATH", None)  # the system python, with none of our venv's packages
    done = subprocess.run([SYSTEM_PYTHON, "-c", QGIS_SCRIPT, f"{server}/ogc", "ana", PASSWORD, ",".join(layers)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.stdout.strip(), (done.returncode, done.stderr[-2000:])
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    with open_store(web_db) as store:
        counts = {name: len(read_any_layer(store, name)) for name in layers}
    assert (counts["lines"], counts["markers"], counts["names"], counts["name_extents"]) == (3, 110, 3, 0)
    for name in layers:
        assert seen[name]["valid"], (name, done.stderr[-2000:])
        assert seen[name]["count"] == seen[name]["read"] == counts[name], (name, seen[name])
        if counts[name]:  # QGIS takes the geometry type, and so a CRS, from the first feature
            assert seen[name]["crs"] in ("OGC:CRS84", "EPSG:4326"), seen[name]
    assert {"line_id", "left_code", "right_code"} <= set(seen["lines"]["fields"])
    assert "marker_id" in seen["markers"]["fields"]
