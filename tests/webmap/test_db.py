"""The request's store on both backends: a read-only request reads one snapshot, and the figures cached
per state of the database are recomputed as soon as another process stores a submission."""

from __future__ import annotations

from boundaries.pipeline import ingest_paths
from webmap import create_app
from webmap.db import db_signature, get_store, safe_url


def _app(db: str, tmp_path):
    return create_app({"QUHUA_DB": db, "TESTING": True, "SECRET_KEY": "t", "UPLOAD_DIR": str(tmp_path / "up")})


def _ingest(paths, db: str) -> int:
    result = ingest_paths(paths, "360000", db=db, user="jx", progress=False)
    assert result.submission_id is not None, result.report
    return result.submission_id


def test_a_read_request_sees_one_snapshot(db_copy, tmp_path, good_submission):
    app = _app(db_copy, tmp_path)
    with app.test_request_context("/overview.json", method="GET"):
        store = get_store()
        submissions = len(store.read_layer("submissions"))
        lines = store.read_layer("lines", history=True)
        signature = db_signature(store)
        _ingest(good_submission, db_copy)  # another connection, committed meanwhile
        assert len(store.read_layer("submissions")) == submissions
        assert store.read_layer("lines", history=True).equals(lines)  # not the new version of 3642
        if db_copy.startswith("postgresql://"):  # read in the snapshot too (a GeoPackage's is the file's)
            assert db_signature(store) == signature
    with app.test_request_context("/overview.json", method="GET"):
        store = get_store()
        assert len(store.read_layer("submissions")) == submissions + 1
        assert db_signature(store) != signature


def test_cached_figures_follow_an_ingest_by_another_process(db_copy, tmp_path, good_submission):
    client = _app(db_copy, tmp_path).test_client()

    def jiangxi() -> dict:
        body = client.get("/overview.json").get_json()
        return next(p for p in body["provinces"] if p["code"] == "360000")

    before = jiangxi()
    assert (before["submissions"], before["lines"], before["status"]) == (2, 2, "loaded_issues")
    assert jiangxi() == before  # from the cache
    _ingest(good_submission, db_copy)
    after = jiangxi()
    assert (after["submissions"], after["lines"], after["status"]) == (3, 2, "updated")
    assert after["last_submission"] > before["last_submission"]


def test_overview_json_is_public_and_counts_the_provinces(client):
    body = client.get("/overview.json").get_json()
    assert (body["loaded"], body["total"], len(body["provinces"])) == (2, 31, 34)
    hunan = next(p for p in body["provinces"] if p["code"] == "430000")
    assert (hunan["status"], hunan["lines"], hunan["markers"], hunan["last_user"]) == ("loaded", 1, 0, "hn")


def test_an_unreachable_database_is_a_500_that_does_not_show_its_password(tmp_path, caplog):
    app = _app("postgresql://quhua:s3cret-pw@127.0.0.1:1/quhua", tmp_path)
    for url in ("/", "/overview.json"):
        response = app.test_client().get(url)
        assert response.status_code == 500 and "s3cret" not in response.get_data(as_text=True)
    assert "not available" in response.get_json()["description"]
    assert "cannot connect" in caplog.text  # the administrator finds the reason in the log


def test_safe_url_hides_the_password():
    assert safe_url("postgresql://quhua:s3cret@db:5432/quhua") == "postgresql://quhua:***@db:5432/quhua"
    assert safe_url("postgresql://quhua@db/quhua") == "postgresql://quhua@db/quhua"
    assert safe_url("data/quhua.gpkg") == "data/quhua.gpkg"


def test_the_cache_key_follows_a_divisions_import(db_copy, tmp_path):
    """The overview draws the gazetteer's province polygons: importing divisions changes the key too."""
    import geopandas as gpd
    import shapely

    from placenames.store import open_name_store
    from tests.conftest import province_polygon

    app = _app(db_copy, tmp_path)
    with app.test_request_context("/overview.json", method="GET"):
        before = db_signature(get_store())
    polygon = province_polygon("360000")
    polygon = polygon if polygon.geom_type == "MultiPolygon" else shapely.MultiPolygon([polygon])
    frame = gpd.GeoDataFrame({"code": ["360000"], "name": ["江西省"], "level": ["province"], "parent": [None]},
                             geometry=[polygon], crs=4490)
    with open_name_store(db_copy) as names, names.write():
        names.put_divisions(frame)
    with app.test_request_context("/overview.json", method="GET"):
        assert db_signature(get_store()) != before
