"""The browser upload under attack (issue 12): a VRT disguised as a GeoPackage or GeoJSON, naming
/etc/passwd, the users table of the database itself, the server's environment or an attacker's URL, is
refused (422, ``dataset.unreadable``) without reading any of it, on both databases; so are lying .dbf files
and a submission with neither line nor marker."""

from __future__ import annotations

import io

import pytest

from tests.boundaries.hostile_files import LEAK_MARKERS, recording_http_server, targets, vrt
from tests.conftest import write_shapefiles
from tests.webmap.test_upload import _files, _post, _submissions, surveyor, upload_app  # noqa: F401 (fixtures)


@pytest.fixture(scope="module")
def http_server(tmp_path_factory):
    with recording_http_server(tmp_path_factory.mktemp("http")) as server:
        yield server


def _refused(surveyor, files) -> str:  # noqa: F811 (the fixture, passed on)
    response = _post(surveyor, files)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "dataset.unreadable" in html
    assert not any(leak in html for leak in LEAK_MARKERS)
    assert "$argon2" not in html and "pbkdf2" not in html  # no password hash of the users table
    return html


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
@pytest.mark.parametrize("target", ["passwd", "database", "environ", "vsicurl"])
def test_a_disguised_vrt_upload_reads_nothing(surveyor, upload_app, http_server, target, suffix):  # noqa: F811
    url, hits = http_server
    before, requests = _submissions(upload_app), len(hits())
    db = upload_app.config["QUHUA_DB"]
    content = vrt(targets(db, url)[target], layer="users" if target == "database" else None)
    html = _refused(surveyor, [(io.BytesIO(content), f"江西省界桩{suffix}")])
    assert f"江西省界桩{suffix}" in html and "内容不是" in html
    assert len(hits()) == requests and _submissions(upload_app) == before


def test_a_lying_dbf_upload_is_refused_with_both_counts(surveyor, upload_app, tmp_path, jx_markers):  # noqa: F811
    (shp,) = write_shapefiles(tmp_path / "jx", None, jx_markers)
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[4:8] = (len(jx_markers) - 10).to_bytes(4, "little")
    dbf.write_bytes(bytes(data))
    surveyor.get("/?lang=en")
    html = _refused(surveyor, _files([shp]))
    assert f"declares {len(jx_markers) - 10} records but the file holds {len(jx_markers)}" in html
