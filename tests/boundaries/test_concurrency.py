"""Eight provinces ingesting at once while readers read: every submission stored exactly once, never half."""

from __future__ import annotations

import multiprocessing
import threading
import time

import geopandas as gpd

from boundaries.crs import metric_epsg
from boundaries.pipeline import ingest_paths
from boundaries.store import open_store
from tests.conftest import markers_along, real_boundary, write_shapefiles

# (submitting province, the neighbour on the other side): eight real provincial boundaries
PAIRS = [("110000", "130000"), ("120000", "130000"), ("140000", "150000"), ("210000", "220000"),
         ("320000", "330000"), ("350000", "440000"), ("450000", "520000"), ("510000", "540000")]


def _submission(folder, own: str, other: str):
    code = "".join(sorted((own[:2], other[:2])))
    line = real_boundary(own, other)
    lines = gpd.GeoDataFrame({"line_id": [code], "left_code": [own], "right_code": [other], "name": [code]},
                             geometry=[line], crs=4490)
    epsg = metric_epsg(line.centroid.x)  # the province's own 3° zone, as its surveyors would use
    return write_shapefiles(folder, lines, markers_along(line, code, every_m=20_000), epsg=epsg, stem=own)


def _ingest(args) -> int | None:
    url, paths, province = args
    return ingest_paths(paths, province, db=url, user=province, progress=False).submission_id


def _reader(url: str, stop: threading.Event, seen: list, torn: list) -> None:
    with open_store(url) as store:
        while not stop.is_set():
            submissions = store.read_layer("submissions")
            markers = store.read_layer("markers")
            per_submission = markers.groupby("submission_id").size().to_dict()
            for row in submissions.itertuples():
                if per_submission.get(row.fid, 0) != row.markers:
                    torn.append((row.fid, row.markers, per_submission.get(row.fid, 0)))
            seen.append(len(submissions))
            time.sleep(0.01)


def test_eight_provinces_at_once_with_readers(db_url, tmp_path):
    jobs = [(db_url, _submission(tmp_path / own, own, other), own) for own, other in PAIRS]
    with open_store(db_url) as store:
        store.init()
    stop, seen, torn = threading.Event(), [], []
    readers = [threading.Thread(target=_reader, args=(db_url, stop, seen, torn)) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        with multiprocessing.get_context("spawn").Pool(8) as pool:
            ids = pool.map(_ingest, jobs)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert sorted(ids) == list(range(1, 9))  # each stored, exactly once
    with open_store(db_url) as store:
        submissions = store.read_layer("submissions")
        lines = store.read_layer("lines")
    assert sorted(submissions.province) == sorted(own for own, _ in PAIRS)
    assert len(lines) == 8 and lines.line_id.is_unique
    assert torn == []  # readers never saw a submission without all its markers
    assert len(seen) > 0 and max(seen) <= 8


def _check_and_ingest(args):
    url, paths, province = args
    result = ingest_paths(paths, province, db=url, user=province, progress=False)
    return result.submission_id, sorted({i["rule"] for i in result.report["issues"]})


def test_two_ingests_of_the_same_boundary_are_serialised(db_url, tmp_path, jx_lines):
    """江西 and 湖南 send the same boundary at once, 30 m apart: whichever lands second is checked
    against the first and refused; never are both versions stored unchecked."""
    line = jx_lines.iloc[:1]
    shifted = line.to_crs(4547).translate(xoff=30).to_crs(4490)
    hunan = gpd.GeoDataFrame(line.drop(columns="geometry").assign(left_code="430000", right_code="360000"),
                             geometry=shifted.values, crs=4490)
    jobs = [(db_url, write_shapefiles(tmp_path / "jx", line, None), "360000"),
            (db_url, write_shapefiles(tmp_path / "hn", hunan, None, stem="湖南省"), "430000")]
    with open_store(db_url) as store:
        store.init()
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.map(_check_and_ingest, jobs)
    stored = [sid for sid, _ in results if sid is not None]
    refused = [rules for sid, rules in results if sid is None]
    assert len(stored) == 1 and refused == [["line.neighbor_mismatch"]]
    with open_store(db_url) as store:
        assert len(store.read_layer("lines")) == 1 and len(store.read_layer("submissions")) == 1
