"""What the viewer keeps between requests (rendered maps, figures per stored row, open connections) never
shows a reader something stale or something meant for another reader: on both databases."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time

import numpy as np
import pytest
import shapely

from boundaries.pipeline import ingest_paths
from boundaries.store import open_store
from tests.conftest import write_shapefiles
from tests.webmap.conftest import _with_duplicate_vertex, login
from webmap import create_app
from webmap.cache import cached, per_row
from webmap.status import geodesic_km


def _client(db: str, tmp_path, **config):
    return create_app({"QUHUA_DB": db, "TESTING": True, "SECRET_KEY": "t", "UPLOAD_DIR": str(tmp_path / "up"),
                       **config}).test_client()


def _province_status(html: str, code: str) -> str:
    """The load status the overview map's dot for province ``code`` is drawn with (its CSS class)."""
    found = re.search(rf'status-([a-z_]+) province-{code[:2]}"', html.rsplit("<script nonce", 1)[1])
    assert found, f"{code} not on the map"
    return found.group(1)


def _script(html: str) -> str:
    """The page's map script."""
    return html.rsplit("<script nonce", 1)[1]


def _nonce_free(html: str) -> str:
    """The page without its per-response CSP nonces and the ids folium gives a map's elements."""
    return re.sub(r"_[0-9a-f]{32}", "_id", re.sub(r'nonce="[^"]+"', "", html))


def test_the_overview_map_shows_an_ingest_at_once(db_copy, tmp_path, good_submission):
    client = _client(db_copy, tmp_path)
    before = client.get("/").get_data(as_text=True)
    assert _province_status(before, "360000") == "loaded_issues"
    assert _nonce_free(client.get("/").get_data(as_text=True)) == _nonce_free(before)  # served again
    official = _client(db_copy, tmp_path)
    assert login(official, "boss").status_code == 302
    hunan = official.get("/province/430000").get_data(as_text=True)
    jiangxi = official.get("/province/360000").get_data(as_text=True)  # the same database: its own map
    assert "province=360000" in _script(jiangxi) and "province=360000" not in _script(hunan)
    result = ingest_paths(good_submission, "360000", db=db_copy, user="jx", progress=False)
    assert result.submission_id is not None, result.report
    after = client.get("/").get_data(as_text=True)
    assert _province_status(after, "360000") == "updated"
    assert _province_status(after, "430000") == _province_status(before, "430000") == "loaded"
    assert _nonce_free(official.get("/province/430000").get_data(as_text=True)) == _nonce_free(hunan)


def _issue_counts(html: str) -> tuple[int, int]:
    """(errors + warnings in the page's header, the count the map's issues layer is named with)."""
    header = sum(int(re.search(rf'class="fig-{kind}">([\d,]+)<', html).group(1).replace(",", ""))
                 for kind in ("errors", "warnings"))
    issues = json.dumps("质检问题")[1:-1]  # as folium writes it in the map's script
    layer = re.search(re.escape(issues) + r" \(([\d,]+)\)", html.rsplit("<script nonce", 1)[1])
    return header, int(layer.group(1).replace(",", ""))


def test_the_province_map_shows_its_new_figures_at_once(db_copy, tmp_path, jx_lines, jx_markers):
    client = _client(db_copy, tmp_path)
    assert login(client, "jx").status_code == 302
    before = _issue_counts(client.get("/province/360000").get_data(as_text=True))
    assert before[0] == before[1] == 1  # the first submission's duplicate vertex
    lines = jx_lines[jx_lines["line_id"] == "3642"].copy()
    lines["geometry"] = [_with_duplicate_vertex(lines.geometry.iloc[0])]  # one more warning
    files = write_shapefiles(tmp_path / "again", lines, jx_markers[jx_markers["line_id"] == "3642"])
    assert ingest_paths(files, "360000", db=db_copy, user="jx", progress=False).submission_id
    after = _issue_counts(client.get("/province/360000").get_data(as_text=True))
    assert after == (2, 2)  # the map's layer is named with the new count, as the header is


@pytest.mark.parametrize("order", [("boss", None, "jx", "ana"), (None, "boss", "ana", "jx")])
def test_the_tiled_overview_of_one_reader_is_never_served_to_another(db_copy, tmp_path, order):
    """An official's overview draws the lines from tiles (controlled data); an anonymous reader's or a
    surveyor's embeds the generalised lines. The rendered map is kept between requests: whoever asks first,
    each reader gets their own variant."""
    for user in order:
        client = _client(db_copy, tmp_path, TILES_ABOVE_VERTICES=0)
        if user:
            assert login(client, user).status_code == 302
        html = client.get("/").get_data(as_text=True)
        tiled = user in ("boss", "ana")
        assert ("quhua.tileLayer" in html) == tiled, user
        assert ('"line_id": "3642"' in html) == (not tiled), user


def test_a_geopackage_replaced_at_the_same_path_is_read_anew(web_source, tmp_path):
    """The server keeps its connection open between requests; a GeoPackage replaced by another file under
    the same name (an administrator restoring a backup) is read from the new file, not the old one."""
    if web_source.startswith("postgresql://"):
        pytest.skip("a GeoPackage file")
    db = tmp_path / "quhua.gpkg"
    shutil.copy(web_source, db)
    client = _client(str(db), tmp_path)
    assert client.get("/overview.json").get_json()["loaded"] == 2
    fresh = tmp_path / "fresh.gpkg"
    open_store(str(fresh)).init()
    fresh.replace(db)  # a new file (inode) at the old path
    body = client.get("/overview.json").get_json()
    assert body["loaded"] == 0 and all(p["submissions"] == 0 for p in body["provinces"])


def test_one_computation_per_entry_however_many_ask_at_once(db_copy):
    calls: list[int] = []

    def compute():
        calls.append(1)
        time.sleep(0.3)
        return {"figure": len(calls)}

    results: list[dict] = []

    def reader():
        store = open_store(db_copy)
        try:
            results.append(cached("test-single-flight", store, compute, db_copy))
        finally:
            store.close()

    threads = [threading.Thread(target=reader) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and results == [{"figure": 1}] * 6


def test_a_failed_computation_is_not_kept(db_copy):
    store = open_store(db_copy)
    try:
        def fails():
            raise RuntimeError("database gone")

        with pytest.raises(RuntimeError):
            cached("test-failure", store, fails)
        assert cached("test-failure", store, lambda: 42) == 42
    finally:
        store.close()


def test_per_row_figures_compute_only_rows_not_seen_before(web_db):
    store = open_store(web_db)
    try:
        lines = store.read_layer("lines", history=True)
    finally:
        store.close()
    assert len(lines) >= 3
    seen: list[int] = []
    name = f"test-km-{web_db}"  # another database's rows of the same fids and shapes share their values

    def km(geometry):
        seen.append(len(geometry))
        return geodesic_km(geometry)

    first = per_row(name, lines.iloc[:-1], km)
    both = per_row(name, lines, km)
    assert seen == [len(lines) - 1, 1]  # the second call measured only the row it had not seen
    assert both == pytest.approx(list(geodesic_km(lines.geometry.values)), rel=1e-12)
    assert both[:-1] == first
    # the same fid, vertex count and bounds, one vertex moved (another database's version of that row)
    line = lines.geometry.iloc[0]
    coordinates = shapely.get_coordinates(line)
    for k in range(1, len(coordinates) - 1):
        moved = coordinates.copy()
        moved[k] = (moved[k - 1] + moved[k + 1]) / 2
        if shapely.LineString(moved).bounds == line.bounds and not np.allclose(moved[k], coordinates[k]):
            break
    other = lines.iloc[:1].copy()
    other["geometry"] = [shapely.LineString(moved)]
    assert per_row(name, other, km) == pytest.approx(list(geodesic_km(other.geometry.values)), rel=1e-12)
    assert per_row(name, other, km) != both[:1]
