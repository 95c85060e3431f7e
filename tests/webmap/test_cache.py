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


def _tokens(db: str) -> dict[str, tuple]:
    with open_store(db) as store:
        return {p: store.province_token(p + "0000") for p in ("36", "42", "43", "11")}


def test_an_ingest_renews_the_tokens_of_the_provinces_it_concerns_only(db_copy, tmp_path, jx_lines, jx_markers):
    """Province pages are kept by :meth:`province_token`: an ingest must renew the token of every province
    whose rows it changes — the sides of its lines, the lines of its markers, and those of the rows it
    supersedes (a marker resubmitted on another line leaves its old line's neighbour) — and no other."""
    before = _tokens(db_copy)
    files = write_shapefiles(tmp_path / "hubei-line", jx_lines[jx_lines["line_id"] == "3642"],
                             jx_markers[jx_markers["line_id"] == "3642"])
    assert ingest_paths(files, "360000", db=db_copy, user="jx", progress=False).submission_id
    after = _tokens(db_copy)
    assert after["36"] != before["36"] and after["42"] != before["42"]
    assert after["43"] == before["43"] and after["11"] == before["11"]

    # marker 3643001Q (on the 湖南 line) resubmitted as a marker of line 3642, where it now stands (accepted
    # where a province's configuration makes these warnings: an id that names another line, and standing
    # where marker 3642001Q stands)
    config = tmp_path / "qa.toml"
    config.write_text("".join(f'[rules."{rule}"]\nseverity = "warning"\n'
                              for rule in ("marker.id_format", "marker.duplicate_position")), encoding="utf-8")
    on_3642 = jx_markers[jx_markers["line_id"] == "3642"].iloc[[0]].copy()
    old_id = on_3642["marker_id"].iloc[0]
    moved = on_3642.assign(marker_id=old_id.replace("3642", "3643", 1))
    with open_store(db_copy) as store:
        hunan_markers = store.query("markers", province="430000", hits_only=True).number_matched
        assert store.query("markers", province="430000", properties={"marker_id": moved["marker_id"].iloc[0]},
                           hits_only=True).number_matched == 1
    files = write_shapefiles(tmp_path / "moved", None, moved)
    result = ingest_paths(files, "360000", db=db_copy, user="jx", progress=False, config_file=config)
    assert result.submission_id, result.report["issues"]
    assert _tokens(db_copy)["43"] != after["43"]  # the 湖南 page loses the marker
    with open_store(db_copy) as store:
        assert store.query("markers", province="430000", hits_only=True).number_matched == hunan_markers - 1


def test_another_provinces_ingest_keeps_a_province_page_a_neighbours_shows_at_once(
        db_copy, tmp_path, jx_lines, jx_markers, monkeypatch):
    import webmap.views.province as province_view

    computed: list[str] = []
    figures = province_view.province_figures
    monkeypatch.setattr(province_view, "province_figures",
                        lambda store, code: computed.append(code) or figures(store, code))
    client = _client(db_copy, tmp_path)
    assert login(client, "boss").status_code == 302
    hunan = client.get("/province/430000").get_data(as_text=True)
    markers = int(re.search(r'data-markers="(\d+)"', hunan).group(1))
    assert computed == ["430000"]
    # 江西 resubmits its line with 湖北: 湖南's page is served as it was, without reading its figures again
    files = write_shapefiles(tmp_path / "hubei-line", jx_lines[jx_lines["line_id"] == "3642"],
                             jx_markers[jx_markers["line_id"] == "3642"])
    assert ingest_paths(files, "360000", db=db_copy, user="jx", progress=False).submission_id
    assert _nonce_free(client.get("/province/430000").get_data(as_text=True)) == _nonce_free(hunan)
    assert computed == ["430000"]
    # 江西 resubmits its line with 湖南 with one marker fewer: 湖南's page counts it at once
    files = write_shapefiles(tmp_path / "hunan-line", jx_lines[jx_lines["line_id"] == "3643"],
                             jx_markers[jx_markers["line_id"] == "3643"].iloc[1:])
    assert ingest_paths(files, "360000", db=db_copy, user="jx", progress=False).submission_id
    again = client.get("/province/430000").get_data(as_text=True)
    assert int(re.search(r'data-markers="(\d+)"', again).group(1)) == markers - 1
    assert computed == ["430000", "430000"]


def test_texts_kept_per_row_stay_within_their_budget():
    """The API's GeoJSON texts are kept per row within a budget of characters (a whole boundary at full
    resolution is a megabyte): the least recently used go first, and what is returned is always whole."""
    from webmap.cache import _RowValues

    pool = _RowValues(1000, len)
    pool.keep([(("a",), "x" * 600), (("b",), "y" * 300)])
    assert pool.known([("a",)]) == {0: "x" * 600}  # a used since b was kept: b goes first
    pool.keep([(("c",), "z" * 200)])
    assert pool.known([("a",), ("b",), ("c",)]) == {0: "x" * 600, 2: "z" * 200}
    assert pool.total == 800 <= pool.limit
