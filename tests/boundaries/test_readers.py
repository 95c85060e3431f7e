"""Reading submissions: every format, CRS family, encoding path and alias set of SPEC §4, on real lines."""

from __future__ import annotations

import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from boundaries.errors import InputError
from boundaries.readers import read_submission
from tests.conftest import CHINESE, PINYIN, write_shapefiles

ENGLISH = {}  # canonical names as they are


def _read(paths, **kw):
    return read_submission(paths, "360000", **kw)


def _lengths_km(frame: gpd.GeoDataFrame) -> np.ndarray:
    return frame.to_crs(4547).length.to_numpy() / 1000


@pytest.mark.parametrize("epsg", [4547, 4527, 4498, 4509, 4490, 4326],
                         ids=["3deg-114E", "3deg-zone38-prefix", "6deg-zone20-prefix", "6deg-117E", "cgcs2000",
                              "wgs84"])
def test_every_crs_family_arrives_in_cgcs2000(tmp_path, jx_lines, jx_markers, epsg):
    paths = write_shapefiles(tmp_path, jx_lines, jx_markers, epsg=epsg)
    sub = _read(paths)
    assert sub.declared_crs == f"EPSG:{epsg}"
    assert sub.lines.crs.to_epsg() == 4490
    # the round trip through the zone keeps the geometry to the millimetre
    shift = sub.markers.geometry.to_crs(4547).distance(jx_markers.geometry.to_crs(4547))
    assert shift.max() < 0.005
    assert np.allclose(_lengths_km(sub.lines), _lengths_km(jx_lines), rtol=1e-6)


def test_declared_gauss_krueger_xy_are_northing_and_easting(jx_submission, jx_markers):
    sub = _read(jx_submission)
    first = sub.markers.iloc[0]
    assert 2_800_000 < first["x"] < 3_300_000  # X: northing, 7 digits, south of 30°N
    assert 300_000 < first["y"] < 700_000  # Y: easting in the 114°E zone
    assert sub.markers["marker_type"].eq("单立").all()


@pytest.mark.parametrize(("encoding", "cpg", "expected"), [
    ("GBK", False, "gb18030"),
    ("GBK", True, "gbk"),
    ("UTF-8", True, "utf-8"),
    ("UTF-8", False, "utf-8"),
], ids=["gbk-no-cpg", "gbk-cpg", "utf8-cpg", "utf8-no-cpg"])
@pytest.mark.parametrize("names", [PINYIN, CHINESE, ENGLISH], ids=["pinyin", "chinese", "english"])
def test_encodings_and_field_aliases(tmp_path, jx_lines, jx_markers, encoding, cpg, expected, names):
    if names is CHINESE and encoding == "UTF-8":
        pytest.skip("4-character Chinese field names do not fit 10 bytes of UTF-8 (see the next test)")
    paths = write_shapefiles(tmp_path, jx_lines, jx_markers, names=names, encoding=encoding, cpg=cpg)
    sub = _read(paths)
    assert sub.encoding == expected
    assert sub.issues == []
    assert list(sub.lines["name"]) == ["江西—湖南线", "江西—湖北线"]
    assert list(sub.lines["left_code"]) == ["360000", "360000"]
    assert sub.markers["marker_id"].iloc[0] == "3643001Q"


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # GDAL's note while writing
def test_utf8_chinese_field_names_cut_mid_character_exit_2(tmp_path, jx_lines):
    paths = write_shapefiles(tmp_path, jx_lines, None, names=CHINESE, encoding="UTF-8", cpg=True)
    with pytest.raises(InputError) as err:
        _read(paths)
    assert err.value.rule == "dataset.encoding" and "GBK" in err.value.message
    assert "另存为 GBK 编码" in err.value.message_zh and "拼音首字母字段名" in err.value.message_zh


def test_encoding_override_wins(tmp_path, jx_lines):
    paths = write_shapefiles(tmp_path, jx_lines, None, names=CHINESE, encoding="GBK", cpg=True)
    sub = _read(paths, encoding="GB18030")
    assert sub.encoding == "gb18030" and sub.lines["name"].iloc[0] == "江西—湖南线"


def test_undecodable_attributes_exit_2(tmp_path, jx_lines):
    (path,) = write_shapefiles(tmp_path, jx_lines, None, encoding="UTF-8", cpg=False)
    dbf = path.with_suffix(".dbf")
    data = dbf.read_bytes().replace("江西".encode(), b"\xff\xfe\xff\xfe\xff\xfe")
    dbf.write_bytes(data)
    with pytest.raises(InputError) as err:
        _read([path])
    assert err.value.rule == "dataset.encoding" and "--encoding" in err.value.message


def test_field_map_names_unknown_fields(tmp_path, jx_lines):
    frame = jx_lines.rename(columns={"line_id": "BH", "left_code": "L", "right_code": "R"})
    path = tmp_path / "lines.geojson"
    pyogrio.write_dataframe(frame, path)
    field_map = {"BH": "line_id", "L": "left_code", "R": "right_code"}
    assert list(_read([path], field_map=field_map).lines["line_id"]) == ["3643", "3642"]
    assert {i.rule for i in _read([path]).issues} == {"dataset.schema"}


def test_missing_required_field_is_a_located_schema_error(tmp_path, jx_lines):
    paths = write_shapefiles(tmp_path, jx_lines.drop(columns="right_code"), None)
    (issue,) = _read(paths).issues
    assert issue.rule == "dataset.schema" and issue.severity == "error"
    assert "right_code" in issue.message and "YCDM" in issue.message and issue.file == "江西省界线.shp"


class _GbkZipInfo(zipfile.ZipInfo):
    """How Chinese Windows packs names: GBK bytes and no UTF-8 flag."""

    def _encodeFilenameFlags(self):
        return self.filename.encode("gbk"), self.flag_bits


@pytest.mark.parametrize("flag_utf8", [True, False], ids=["utf8-names", "gbk-names"])
def test_zip_of_shapefiles_with_chinese_names(tmp_path, jx_lines, jx_markers, flag_utf8):
    paths = write_shapefiles(tmp_path / "src", jx_lines, jx_markers)
    archive = tmp_path / "江西省界线界桩.zip"
    info_class = zipfile.ZipInfo if flag_utf8 else _GbkZipInfo
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for shp in paths:
            for part in shp.parent.glob(shp.stem + ".*"):
                zf.writestr(info_class(f"江西/{part.name}"), part.read_bytes())
    if not flag_utf8:
        raw = archive.read_bytes()
        assert "江西".encode("gbk") in raw
    sub = _read([archive])
    assert len(sub.lines) == 2 and len(sub.markers) == len(jx_markers)
    assert {layer["source"] for layer in sub.layers} == {"江西省界线.shp", "江西省界桩.shp"}
    assert sub.files[0].name == archive.name and len(sub.files[0].sha256) == 64


def test_geopackage_and_geojson_inputs(tmp_path, jx_lines, jx_markers):
    gpkg = tmp_path / "江西.gpkg"
    pyogrio.write_dataframe(jx_lines.to_crs(4547), gpkg, layer="界线")
    pyogrio.write_dataframe(jx_markers.to_crs(4547), gpkg, layer="界桩")
    sub = _read([gpkg])
    assert (len(sub.lines), len(sub.markers)) == (2, len(jx_markers))
    geojson = tmp_path / "lines.geojson"
    pyogrio.write_dataframe(jx_lines, geojson, layer_options={"RFC7946": "YES"})
    sub = _read([geojson])
    assert sub.declared_crs == "EPSG:4326" and sub.encoding == "utf-8"


def _marker_table(jx_markers, epsg=4547) -> pd.DataFrame:
    metric = jx_markers.to_crs(epsg)
    return pd.DataFrame({"界桩编号": jx_markers["marker_id"], "界桩类型": "单立", "界线编号": "3643",
                         "X坐标": metric.geometry.y.round(3), "Y坐标": metric.geometry.x.round(3)})


def test_marker_table_csv_with_gauss_krueger_xy(tmp_path, jx_markers):
    path = tmp_path / "界桩成果表.csv"
    _marker_table(jx_markers).to_csv(path, index=False, encoding="gbk")
    sub = _read([path], crs="EPSG:4547")
    assert sub.encoding == "gb18030" and len(sub.markers) == len(jx_markers)
    shift = sub.markers.to_crs(4547).distance(jx_markers.to_crs(4547))
    assert shift.max() < 0.001


def test_marker_table_xy_without_crs_exits_2(tmp_path, jx_markers):
    path = tmp_path / "界桩成果表.csv"
    _marker_table(jx_markers).to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        _read([path])
    assert err.value.rule == "dataset.crs_missing" and "--crs" in err.value.message
    assert "界桩成果表.csv：表中给的是高斯-克吕格 X/Y 坐标，但没有坐标系" in err.value.message_zh


def _dms(value: float) -> str:
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    return f"{d}°{m:02d}′{s:06.3f}″"


def test_marker_table_xlsx_with_dms_longitude_latitude(tmp_path, jx_markers):
    table = pd.DataFrame({"JZBH": jx_markers["marker_id"], "JD": [_dms(p.x) for p in jx_markers.geometry],
                          "WD": [_dms(p.y) for p in jx_markers.geometry]})
    path = tmp_path / "界桩成果表.xlsx"
    table.to_excel(path, index=False)
    sub = _read([path])
    shift = sub.markers.to_crs(4547).distance(jx_markers.to_crs(4547))
    assert shift.max() < 0.05  # 度分秒 to 0.001″ is 3 cm
    assert sub.markers["lon"].iloc[0] == pytest.approx(jx_markers.geometry.x.iloc[0], abs=1e-6)


def test_csv_with_swapped_xy_columns_is_diagnosed(tmp_path, jx_markers):
    table = _marker_table(jx_markers)
    table = table.rename(columns={"X坐标": "Y坐标", "Y坐标": "X坐标"})  # X now holds eastings
    path = tmp_path / "界桩成果表.csv"
    table.to_csv(path, index=False)
    sub = _read([path], crs="EPSG:4547")
    rules = {i.rule for i in sub.issues}
    assert rules == {"marker.axis_swapped"} and len(sub.issues) == len(jx_markers)
    assert "互换" in sub.issues[0].message and "swap" in sub.issues[0].message_en
    # located where the marker really is once swapped
    assert sub.markers.to_crs(4547).distance(jx_markers.to_crs(4547)).max() < 0.001


# -- bad input: exit 2 with a message naming the file and the fix -----------------------------------------
def test_missing_prj_exits_2(tmp_path, jx_lines):
    (path,) = write_shapefiles(tmp_path, jx_lines, None)
    path.with_suffix(".prj").unlink()
    with pytest.raises(InputError) as err:
        _read([path])
    assert err.value.rule == "dataset.crs_missing"
    assert "江西省界线.shp" in err.value.message and "--crs" in err.value.message
    assert err.value.text("zh").startswith("江西省界线.shp：没有坐标系（缺少 .prj 文件）")
    assert err.value.text("en") == err.value.message
    assert len(_read([path], crs="EPSG:4547").lines) == 2  # --crs mends it


@pytest.mark.parametrize("sidecar", [".dbf", ".shx"])
def test_missing_sidecar_exits_2(tmp_path, jx_lines, sidecar):
    (path,) = write_shapefiles(tmp_path, jx_lines, None)
    path.with_suffix(sidecar).unlink()
    with pytest.raises(InputError) as err:
        _read([path])
    assert err.value.rule == "dataset.unreadable"
    assert f"江西省界线{sidecar}" in err.value.message and "together" in err.value.message
    assert f"缺少{'属性表' if sidecar == '.dbf' else '索引文件'} 江西省界线{sidecar}" in err.value.message_zh
    assert "一并提交" in err.value.message_zh


def test_truncated_shp_exits_2(tmp_path, jx_lines):
    (path,) = write_shapefiles(tmp_path, jx_lines, None)
    path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(InputError, match="truncated") as err:
        _read([path])
    assert err.value.rule == "dataset.unreadable" and "文件不完整或已损坏" in err.value.message_zh


def test_empty_layer_exits_2(tmp_path, jx_lines):
    (path,) = write_shapefiles(tmp_path, jx_lines.iloc[:0], None)
    with pytest.raises(InputError, match="no features") as err:
        _read([path])
    assert err.value.file == "江西省界线.shp" and "图层中没有要素" in err.value.message_zh


def test_zip_without_shapefile_exits_2(tmp_path):
    archive = tmp_path / "资料.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("说明.txt", "界线资料")
    with pytest.raises(InputError, match="holds no shapefile") as err:
        _read([archive])
    assert "资料.zip：压缩包中没有 shapefile" in err.value.message_zh


@pytest.mark.parametrize("name", ["../../etc/evil.shp", "/tmp/evil.shp", "..\\evil.shp"],
                         ids=["dotdot", "absolute", "backslash"])
def test_zip_slip_is_refused_and_nothing_written(tmp_path, name):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(name, b"x")
    with pytest.raises(InputError, match="outside the archive") as err:
        _read([archive])
    assert "指向压缩包目录之外" in err.value.message_zh
    assert not (tmp_path.parent / "etc").exists()


def test_zip_bomb_is_refused(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.shp", b"\0" * (64 * 1024 * 1024))
    with pytest.raises(InputError, match="zip bomb") as err:
        _read([archive])
    assert "bomb.zip：" in err.value.message_zh and "疑为压缩炸弹" in err.value.message_zh


def test_projected_coordinates_labelled_cgcs2000_exit_2(tmp_path, jx_lines):
    metric = jx_lines.to_crs(4527)  # 8-digit eastings with the zone prefix 39
    path = tmp_path / "lines.shp"
    pyogrio.write_dataframe(metric.set_crs(4490, allow_override=True), path)
    with pytest.raises(InputError) as err:
        _read([path])
    assert err.value.rule == "dataset.crs_unsupported"
    assert "EPSG:4527" in err.value.message  # the zone prefix names the likely CRS
    assert "高斯-克吕格" in err.value.message_zh and "横坐标带号前缀 39 对应 EPSG:4527" in err.value.message_zh


def test_unsupported_crs_exits_2(tmp_path, jx_lines):
    path = tmp_path / "lines.geojson"
    pyogrio.write_dataframe(jx_lines.to_crs(3857), path, layer_options={"RFC7946": "NO"})
    with pytest.raises(InputError) as err:
        _read([path])
    assert err.value.rule == "dataset.crs_unsupported" and "EPSG:4491–4554" in err.value.message
    assert "不接受坐标系" in err.value.message_zh and "高斯-克吕格投影带" in err.value.message_zh


def test_polygons_are_not_boundary_lines(tmp_path):
    frame = gpd.GeoDataFrame({"JXDM": ["3643"]}, geometry=[shapely.box(114, 27, 115, 28)], crs=4490)
    path = tmp_path / "poly.geojson"
    pyogrio.write_dataframe(frame, path)
    with pytest.raises(InputError, match="neither boundary lines") as err:
        _read([path])
    assert "几何类型 Polygon 既不是界线" in err.value.message_zh


def test_bad_province_code_exits_2(jx_submission):
    with pytest.raises(InputError, match="360000") as err:
        read_submission(jx_submission, "36")
    assert "不是省级行政区划代码" in err.value.message_zh


def test_two_columns_for_one_field_exit_2_in_both_languages(tmp_path, jx_lines):
    path = tmp_path / "lines.geojson"
    pyogrio.write_dataframe(jx_lines.assign(BH=jx_lines["line_id"]), path)
    with pytest.raises(InputError) as err:
        _read([path], field_map={"BH": "line_id"})
    assert err.value.rule == "dataset.schema"
    assert "lines.geojson: columns 'line_id' and 'BH' both give line_id" in err.value.message
    assert "lines.geojson：字段 'line_id' 和 'BH' 都对应 line_id；请只保留其一" in err.value.message_zh


# -- field values mapped once per distinct value (fields.map_distinct) -------------------------------------------
def _row_by_row(values: pd.Series, func) -> list:
    """``func`` of every row, as ``Series.map`` computes it (the reference the distinct values must match)."""
    return list(values.astype(object).map(func).astype(object))


def _same(got: pd.Series, expected: list) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert type(a) is type(b) and (a == b or (a != a and b != b)), (a, b)  # NaN is NaN


@pytest.mark.parametrize("values", [
    [" 360000 ", "360000", None, np.nan, "360000.0", "", "江西", "江西", "36.5", "360000"],  # text and blanks
    [360000.0, 360000.0, np.nan, 430000.0, 360000.0],  # a numeric DBF field
    [360000, "360000", 1, 1.0, None, pd.NA, "1"],  # mixed types
    [True, 1, 1.0, "1", None],  # True equals 1: kept apart, row by row
    [["360000"], "360000", ["360000"]],  # unhashable values (a GeoJSON array)
    [np.nan] * 4,  # a column the layer does not have
    [],
], ids=["text", "float", "mixed", "bool", "unhashable", "all-missing", "empty"])
def test_codes_map_once_per_distinct_value_as_row_by_row(values):
    from boundaries.fields import normalise_code, normalise_codes

    column = pd.Series(values, dtype=object, index=np.arange(len(values)) * 3)  # an index that is not 0…n
    got = normalise_codes(column)
    assert list(got.index) == list(column.index)
    _same(got, _row_by_row(column, normalise_code))


def test_marker_types_and_angles_map_once_per_distinct_value_as_row_by_row():
    from boundaries.fields import map_distinct, normalise_marker_type, parse_angle

    types = pd.Series(["单立", "pair", None, "单立", "三立", "bogus", np.nan, "单立"] * 50, dtype=object)
    _same(map_distinct(types, normalise_marker_type), _row_by_row(types, normalise_marker_type))
    angles = pd.Series(["114°32'54.6\"E", None, "114.5", 114.5, "abc", "114°32'54.6\"E"] * 50, dtype=object)
    _same(map_distinct(angles, parse_angle), _row_by_row(angles, parse_angle))


def test_gbk_shapefile_with_repeated_values_and_nulls_reads_as_row_by_row(tmp_path, jx_lines):
    from boundaries.fields import normalise_code

    lines = gpd.GeoDataFrame(
        {"line_id": ["3643", "3642", " 3643 ", None, "3641", "3641"],
         "left_code": ["360000", "360000", None, "360000", "360000.0", "360000"],
         "right_code": ["430000", "420000", "430000", "", "430000", "420000"],
         "name": ["江西—湖南线", "江西—湖北线", "江西—湖南线", None, "江西—湖南线", "江西—湖北线"]},
        geometry=list(jx_lines.geometry) * 3, crs=4490)
    paths = write_shapefiles(tmp_path, lines, None, encoding="GBK", cpg=False)
    raw = pyogrio.read_dataframe(paths[0], encoding="gb18030")
    sub = _read(paths)
    assert sub.encoding == "gb18030"
    for field, column in (("line_id", "JXDM"), ("left_code", "ZCDM"), ("right_code", "YCDM"), ("name", "JXMC")):
        _same(sub.lines[field], _row_by_row(raw[column], normalise_code))
    assert list(sub.lines["name"][:3]) == ["江西—湖南线", "江西—湖北线", "江西—湖南线"]


def test_source_checksums_are_the_files_sha256_in_order(tmp_path, jx_lines, jx_markers):
    """The checksums, computed in a thread while the layers are read, are each file's own, in the order
    the files were given (a shapefile's parts sorted by extension) — also for a zip."""
    import hashlib

    paths = write_shapefiles(tmp_path / "src", jx_lines, jx_markers)
    archive = tmp_path / "江西.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in paths[1].parent.glob(paths[1].stem + ".*"):
            zf.write(part, part.name)
    sub = _read([paths[0], archive])
    expected = [*sorted(paths[0].parent.glob(paths[0].stem + ".*"), key=lambda p: p.suffix), archive]
    assert [f.name for f in sub.files] == [p.name for p in expected]
    assert [f.sha256 for f in sub.files] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in expected]
    assert [f.size for f in sub.files] == [p.stat().st_size for p in expected]


def test_one_kind_of_layer_leaves_the_other_an_empty_canonical_frame(tmp_path, jx_lines, jx_markers):
    """A submission of lines only has the canonical empty markers (columns, dtypes, CRS), and the other way
    round; numeric longitude/latitude columns (float64) arrive as the surveyor wrote them."""
    from boundaries.model import empty_lines, empty_markers

    lines_only = tmp_path / "lines.gpkg"
    pyogrio.write_dataframe(jx_lines.to_crs(4547), lines_only, layer="界线")
    sub = _read([lines_only])
    assert len(sub.lines) == 2
    pd.testing.assert_frame_equal(sub.markers, empty_markers())
    assert sub.markers.crs == empty_markers().crs
    markers = jx_markers.assign(经度=jx_markers.geometry.x, 纬度=jx_markers.geometry.y)
    markers.loc[0, "经度"] = np.nan
    markers_only = tmp_path / "markers.gpkg"
    pyogrio.write_dataframe(markers, markers_only, layer="界桩")
    sub = _read([markers_only])
    pd.testing.assert_frame_equal(sub.lines, empty_lines())
    assert sub.markers["lon"].dtype == np.float64
    assert np.isnan(sub.markers["lon"].iloc[0])
    assert sub.markers["lon"].iloc[1:].tolist() == markers["经度"].iloc[1:].tolist()
    assert sub.markers["lat"].tolist() == markers["纬度"].tolist()
