"""QGIS itself (Debian's ``qgis`` + ``python3-qgis`` 3.22, headless) opens ``/tiles/lines/{z}/{x}/{y}.mvt`` as a
vector tile layer with an HTTP Basic authentication configuration and draws the tile of line 3642; for the
surveyor of 湖南, whom the server answers 204 there (nothing of theirs), it draws nothing. QGIS 3.22's
Python has no MVT decoder, so what QGIS read is judged by what it drew: the rendered image goes to
``test-artifacts/``. Skipped only when QGIS is not installed (as tests/webmap/test_ogc_qgis.py)."""

from __future__ import annotations

import json
import os
import subprocess

import morecantile
import pytest

from boundaries.store import open_store
from tests.webmap.browser import ARTIFACTS
from tests.webmap.conftest import PASSWORD
from tests.webmap.test_ogc_qgis import SYSTEM_PYTHON, _qgis_available

pytestmark = pytest.mark.skipif(not _qgis_available(), reason="QGIS is not installed (apt-get install qgis "
                                "python3-qgis, as scripts/install.sh test does)")

#: Run by the system python: a QgsVectorTileLayer (XYZ, Basic auth from QGIS's auth database) rendered over
#: one tile's extent; prints whether the layer is valid, its CRS and how many sampled pixels are drawn.
QGIS_SCRIPT = r"""
import json, sys
from qgis.core import (QgsApplication, QgsAuthMethodConfig, QgsCoordinateReferenceSystem, QgsDataSourceUri,
                       QgsMapRendererParallelJob, QgsMapSettings, QgsRectangle, QgsVectorTileLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
app = QgsApplication([], False)
app.initQgis()
url, user, password, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
left, bottom, right, top = map(float, sys.argv[5:9])
auth = QgsApplication.authManager()
auth.setMasterPassword("quhua-test", True)
config = QgsAuthMethodConfig()
config.setName("quhua")
config.setMethod("Basic")
config.setConfig("username", user)
config.setConfig("password", password)
auth.storeAuthenticationConfig(config)
uri = QgsDataSourceUri()
uri.setParam("type", "xyz")
uri.setParam("url", url)
uri.setParam("zmin", "0")
uri.setParam("zmax", "14")
uri.setAuthConfigId(config.id())
layer = QgsVectorTileLayer(bytes(uri.encodedUri()).decode(), "lines")
settings = QgsMapSettings()
settings.setLayers([layer])
settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
settings.setOutputSize(QSize(512, 512))
settings.setBackgroundColor(QColor(255, 255, 255))
settings.setExtent(QgsRectangle(left, bottom, right, top))
job = QgsMapRendererParallelJob(settings)
job.start()
job.waitForFinished()
image = job.renderedImage()
image.save(out)
drawn = sum(QColor(image.pixel(i, j)).lightness() < 230 for i in range(0, 512, 2) for j in range(0, 512, 2))
print(json.dumps({"valid": layer.isValid(), "crs": layer.crs().authid(), "drawn": drawn}), flush=True)
app.exitQgis()
"""


def _qgis_draws(server: str, user: str, tile: morecantile.Tile, out, tmp_path) -> dict:
    home = tmp_path / user  # a QGIS profile each: QGIS caches tiles by URL in its profile
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700, parents=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(runtime), HOME=str(home))
    env.pop("PYTHONPATH", None)  # the system python, with none of our venv's packages
    bounds = morecantile.tms.get("WebMercatorQuad").xy_bounds(tile)
    done = subprocess.run([SYSTEM_PYTHON, "-c", QGIS_SCRIPT, f"{server}/tiles/lines/{{z}}/{{x}}/{{y}}.mvt", user,
                           PASSWORD, str(out), *map(str, bounds)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.stdout.strip(), (done.returncode, done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_qgis_draws_the_tiles_with_basic_auth(server, web_db, tmp_path):
    with open_store(web_db) as store:
        lines = store.read_layer("lines")
    middle = lines[lines["line_id"] == "3642"].geometry.iloc[0].interpolate(0.5, normalized=True)
    tile = morecantile.tms.get("WebMercatorQuad").tile(middle.x, middle.y, 10)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    seen = _qgis_draws(server, "ana", tile, ARTIFACTS / "qgis_tiles.png", tmp_path)
    assert seen["valid"] and seen["crs"] == "EPSG:3857", seen
    assert seen["drawn"] > 100, seen  # the line crosses the tile: hundreds of its pixels are drawn
    # (not a wrong password: QGIS 3.22 then retries and waits for a credentials dialog that never comes)
    hunan = _qgis_draws(server, "hn", tile, tmp_path / "hunan.png", tmp_path)
    assert hunan["valid"] and hunan["drawn"] == 0, hunan
