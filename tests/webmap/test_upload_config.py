"""Browser uploads are checked with the QA configuration the database holds for the province (issue 11
item 5), as `quhua check` is: the same verdict on the same files."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from boundaries.store import open_store
from tests.boundaries.conftest_rules import offset_point
from tests.conftest import write_shapefiles
from tests.webmap.test_upload import _files, _post, surveyor, upload_app  # noqa: F401  (fixtures)


def test_upload_uses_the_stored_configuration(surveyor, upload_app, tmp_path, jx_lines, jx_markers):  # noqa: F811
    line = jx_lines.geometry[jx_lines["line_id"] == "3643"].iloc[0]
    extra = gpd.GeoDataFrame({"marker_id": ["3643900Q"], "marker_type": ["单立"], "line_id": ["3643"]},
                             geometry=[shapely.Point(offset_point(line, 0.37, 2.0))], crs=4490)
    paths = write_shapefiles(tmp_path / "江西", jx_lines,
                             gpd.GeoDataFrame(pd.concat([jx_markers, extra], ignore_index=True), crs=4490))
    html = _post(surveyor, _files(paths)).get_data(as_text=True)
    assert "无错误" in html and "3643900Q" not in html  # 2 m from its line: within the default 5 m
    with open_store(upload_app.config["QUHUA_DB"]) as store:
        store.write_config("360000", '[rules."marker.off_line"]\nsingle_m = 1.0\n', user="admin")
    html = _post(surveyor, _files(paths)).get_data(as_text=True)
    assert "有错误" in html and "marker.off_line" in html and "3643900Q" in html
