"""The stores' query interface (``Store.query``/``Store.get``) on both backends with 江西's real submission:
filters, order, paging and counts done by the database, answering as the whole layer filtered would."""

from __future__ import annotations

import pytest
import shapely

from boundaries.errors import StoreError
from boundaries.pipeline import ingest_paths
from boundaries.store import open_store


@pytest.fixture
def store(db_url, jx_submission):
    ingest_paths(jx_submission, "360000", db=db_url, progress=False)
    with open_store(db_url) as store:
        yield store


def test_pages_and_counts_are_slices_of_the_whole_layer(store):
    whole = store.read_layer("markers")
    first = store.query("markers", limit=40)
    assert list(first.features.fid) == list(whole.fid[:40]) and first.more
    assert first.number_matched == len(whole) == 110
    last = store.query("markers", offset=100, limit=40)
    assert list(last.features.fid) == list(whole.fid[100:]) and not last.more and last.number_matched == 110
    keyset = store.query("markers", after=int(whole.fid[39]), limit=40)
    assert list(keyset.features.fid) == list(whole.fid[40:80])
    assert store.query("markers", hits_only=True).number_matched == 110
    assert store.query("markers", hits_only=True).features.empty


def test_deep_offsets_start_from_marks_and_give_the_same_slices(store, monkeypatch):
    from boundaries.store import _sql

    monkeypatch.setattr(_sql, "OFFSET_MARK_EVERY", 16)  # as with 10,000 at national scale
    whole = store.read_layer("markers")
    for offset in (15, 16, 17, 40, 95, 109, 200):
        page = store.query("markers", offset=offset, limit=7)
        assert list(page.features.fid) == list(whole.fid[offset:offset + 7]), offset
        assert page.number_matched == 110 and page.more == (offset + 7 < 110)
    mine = store.query("markers", offset=33, limit=5, properties={"line_id": "3643"})
    assert list(mine.features.fid) == list(whole[whole.line_id == "3643"].fid[33:38])


def test_filters_together_and_order(store):
    whole = store.read_layer("markers")
    box = (113.5, 25.0, 114.5, 26.5)
    inside = whole[shapely.intersects(whole.geometry.values, shapely.box(*box))]
    line = inside.line_id.iloc[0]
    expected = inside[inside.line_id == line].sort_values(["marker_id"], ascending=False)
    page = store.query("markers", bbox=box, province="360000", properties={"line_id": [line, "nope"]},
                       sortby=["-marker_id"])
    assert list(page.features.marker_id) == list(expected.marker_id) and page.number_matched == len(expected) > 3
    lines = store.query("lines", bbox=(116.0, 29.5, 116.2, 29.9))  # the envelope of 3643 reaches here, the line not
    assert list(lines.features.line_id) == ["3642"] and lines.number_matched == 1


def test_get_by_id_within_a_province_and_history(store):
    fid = int(store.read_layer("lines").fid.iloc[0])
    assert store.get("lines", fid).line_id.tolist() == [store.read_layer("lines").line_id.iloc[0]]
    assert store.get("lines", fid, province="110000").empty  # not 北京's
    assert store.get("lines", "x").empty and store.get("lines", 10**9).empty


def test_unknown_columns_and_layers_are_clear_errors(store):
    with pytest.raises(StoreError, match="no column 'colour'"):
        store.query("lines", properties={"colour": "red"})
    with pytest.raises(StoreError, match="cannot sort"):
        store.query("lines", sortby=["colour"])
    with pytest.raises(StoreError, match="unknown layer"):
        store.query("users")


def test_counts_are_counted_again_after_every_write(store, tmp_path, jx_lines, jx_markers, monkeypatch):
    """numberMatched is cached per state of the database: an ingest changes it at once; an edit made with
    another tool (here Python's sqlite3, as QGIS would edit the file) shows after COUNT_TTL_S."""
    import sqlite3

    from boundaries.store import _sql
    from tests.conftest import write_shapefiles

    assert store.query("markers", limit=1).number_matched == 110
    again = jx_markers[jx_markers.line_id == "3642"].iloc[:5]
    ingest_paths(write_shapefiles(tmp_path / "again", jx_lines[jx_lines.line_id == "3642"], again), "360000",
                 db=store.url, progress=False)
    expected = 110 - int((jx_markers.line_id == "3642").sum()) + 5
    assert store.query("markers", limit=1).number_matched == expected
    if not store.url.startswith("postgresql"):
        with sqlite3.connect(store.url) as other:
            other.execute("DELETE FROM issues")  # no trigger of ours: a plain table edit
            other.execute("UPDATE markers SET status = 'withdrawn' WHERE fid = (SELECT max(fid) FROM markers)")
        assert store.query("markers", limit=1).number_matched == expected  # trusted for COUNT_TTL_S
        monkeypatch.setattr(_sql, "COUNT_TTL_S", 0.0)
        assert store.query("markers", limit=1).number_matched == expected - 1
