"""Reading a submission's files into a :class:`~boundaries.model.Submission` (SPEC §4).

Accepted: ``.shp`` with its sidecars, a ``.zip`` of shapefiles (or of any of these), a folder of them,
``.gpkg`` (every layer), ``.geojson``, and marker tables ``.csv``/``.xlsx`` (界桩成果表). Layers are told
apart by geometry type: lines are boundary lines, points are markers. Everything is brought to EPSG:4490;
problems that make the input unusable raise :class:`~boundaries.errors.InputError` (exit 2), problems of
the data itself become issues on the submission.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from boundaries import crs as crs_mod
from boundaries import safe_open
from boundaries.encoding import decode_text, detect_dbf_encoding, shapefile_part
from boundaries.errors import InputError
from boundaries.fields import (
    ALIASES,
    REQUIRED,
    map_distinct,
    normalise_codes,
    normalise_marker_type,
    parse_angle,
    rename_columns,
)
from boundaries.model import (
    LINE_FIELDS,
    MARKER_FIELDS,
    STORAGE_CRS,
    Issue,
    SourceFile,
    Submission,
    empty_lines,
    empty_markers,
)
from boundaries.shapefiles import check_shapefile

__all__ = ["PROVINCES", "ZIP_LIMITS", "check_province", "read_submission"]

#: GB/T 2260 province-level codes (two-digit prefixes) and names.
PROVINCES = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古", "21": "辽宁", "22": "吉林",
    "23": "黑龙江", "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西",
    "37": "山东", "41": "河南", "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南",
    "50": "重庆", "51": "四川", "52": "贵州", "53": "云南", "54": "西藏", "61": "陕西", "62": "甘肃",
    "63": "青海", "64": "宁夏", "65": "新疆", "71": "台湾", "81": "香港", "82": "澳门",
}
#: Refuse archives that unpack to more than this, or whose entries compress better than this ratio.
ZIP_LIMITS = {"total_bytes": 2 * 1024**3, "ratio": 200, "entries": 10_000}
_TABLES = {".csv", ".xlsx"}
_VECTOR = {".shp", ".gpkg", ".geojson", ".json"}
_FOLDER_FILES = {".shp", ".gpkg", ".geojson", ".csv", ".xlsx", ".zip"}
_SHAPEFILE_PARTS = {".shp", ".shx", ".dbf", ".prj", ".cpg"}
_LINE_TYPES = {"LineString", "MultiLineString"}
_POINT_TYPES = {"Point", "MultiPoint"}
#: shapely.get_type_id → geometry type name.
_GEOMETRY_TYPES = {0: "Point", 1: "LineString", 2: "LinearRing", 3: "Polygon", 4: "MultiPoint",
                   5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}


def check_province(code: str) -> str:
    """The submitting province's code, checked: six digits ending in 0000 with a known prefix."""
    text = str(code).strip()
    if len(text) != 6 or not text.isdigit() or text[2:] != "0000" or text[:2] not in PROVINCES:
        raise InputError(f"--province {code!r} is not a province code; give the six-digit GB/T 2260 code "
                         "of the submitting province, e.g. 360000 (江西)", rule="dataset.arguments",
                         message_zh=f"--province {code!r} 不是省级行政区划代码；请给出报送省份的六位 GB/T 2260 "
                                    "代码，如 360000（江西）")
    return text


@dataclass
class _Layer:
    """One layer as read: its frame, where it came from, its encoding and CRS."""

    frame: pd.DataFrame
    source: str
    encoding: str
    epsg: int | None


# -- files and archives ---------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _member_name(info: zipfile.ZipInfo) -> str:
    """The entry's real name: zip files from Chinese Windows write GBK names without the UTF-8 flag."""
    if info.flag_bits & 0x800:
        return info.filename
    raw = info.filename.encode("cp437")
    for codec in ("utf-8", "gb18030"):
        with contextlib.suppress(UnicodeDecodeError):
            return raw.decode(codec)
    return info.filename


def _zip_sizes_checked(zf: zipfile.ZipFile, archive: Path) -> list[zipfile.ZipInfo]:
    """The entries of a zip (also an .xlsx), refused if they are too many or unpack too far (a zip bomb)."""
    infos = zf.infolist()
    if len(infos) > ZIP_LIMITS["entries"]:
        raise InputError(f"{archive.name}: {len(infos)} entries (limit {ZIP_LIMITS['entries']}); "
                         "send the boundary files only", file=archive.name,
                         message_zh=f"{archive.name}：含 {len(infos)} 个文件（上限 {ZIP_LIMITS['entries']}"
                                    " 个）；请只打包界线、界桩文件")
    total = sum(i.file_size for i in infos)
    packed = sum(max(i.compress_size, 1) for i in infos)
    if total > ZIP_LIMITS["total_bytes"] or (total > ZIP_LIMITS["ratio"] * packed and total > 1 << 24):
        workbook = archive.suffix.lower() == ".xlsx"
        fix_en = "save the table as CSV (UTF-8) instead" if workbook else "send the shapefiles themselves"
        fix_zh = "请将表格另存为 CSV（UTF-8）后上传" if workbook else "请直接上传 shapefile 文件"
        raise InputError(f"{archive.name}: unpacks to {total / 1e6:.0f} MB from {packed / 1e6:.1f} MB — "
                         f"refused as a possible zip bomb; {fix_en}", file=archive.name,
                         message_zh=f"{archive.name}：{packed / 1e6:.1f} MB 解压后达 {total / 1e6:.0f} MB，"
                                    f"疑为压缩炸弹，已拒收；{fix_zh}")
    return infos


def _safe_extract(archive: Path, target: Path) -> list[Path]:
    """Unpack a zip, refusing entries that climb out of the folder, links and zip bombs."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputError(f"{archive.name}: not a readable zip archive ({err}); pack the files again",
                         file=archive.name,
                         message_zh=f"{archive.name}：无法读取的 zip 压缩包（{err}）；请重新打包") from err
    with zf:
        infos = _zip_sizes_checked(zf, archive)
        out = []
        for info in infos:
            name = _member_name(info)
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise InputError(f"{archive.name}: entry {name!r} points outside the archive's folder — "
                                 "refused (a dangerous archive); pack the files with relative names",
                                 file=archive.name, feature=name,
                                 message_zh=f"{archive.name}：条目 {name!r} 指向压缩包目录之外，属危险压缩包，"
                                            "已拒收；请用相对路径重新打包")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InputError(f"{archive.name}: entry {name!r} is a symbolic link — refused; "
                                 "pack the files themselves", file=archive.name, feature=name,
                                 message_zh=f"{archive.name}：条目 {name!r} 是符号链接，已拒收；"
                                            "请打包文件本身")
            if info.is_dir():
                continue
            dest = target.joinpath(*parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, dest.open("wb") as dst:
                    while block := src.read(1 << 20):
                        dst.write(block)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as err:  # zlib: a damaged entry
                raise InputError(f"{archive.name}: entry {name!r} cannot be unpacked ({err}); pack the "
                                 "files again", file=archive.name, feature=name,
                                 message_zh=f"{archive.name}：条目 {name!r} 无法解压（{err}）；请重新打包"
                                 ) from err
            out.append(dest)
    return out


def _expand(paths: list[Path], stack: contextlib.ExitStack) -> tuple[list[Path], list[Path]]:
    """The readable files behind the given paths (zips unpacked, folders listed), and the files as they
    arrived (a shapefile's parts, the zip itself), whose checksums the submission records."""
    files, sources = [], []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise InputError(f"{path}: no such file or folder; check the path", file=path.name,
                             message_zh=f"{path}：文件或文件夹不存在；请检查路径")
        if path.is_dir():
            inner, inner_sources = _expand(sorted(p for p in path.rglob("*") if p.is_file()
                                                  and p.suffix.lower() in _FOLDER_FILES), stack)
            files += inner
            sources += inner_sources
            continue
        suffix = path.suffix.lower()
        if suffix in _SHAPEFILE_PARTS - {".shp"}:
            continue  # recorded with its .shp
        members = [path] if suffix != ".shp" else [
            p for part in sorted(_SHAPEFILE_PARTS) if (p := shapefile_part(path, part)) is not None]
        sources += members
        if suffix == ".zip":
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="quhua-zip-")))
            inner = [p for p in _safe_extract(path, tmp) if p.suffix.lower() in _VECTOR | _TABLES]
            if not inner:
                raise InputError(f"{path.name}: the archive holds no shapefile (.shp with .dbf/.shx), "
                                 "GeoPackage, GeoJSON or marker table; pack the boundary files into it",
                                 file=path.name,
                                 message_zh=f"{path.name}：压缩包中没有 shapefile（.shp 及 .dbf/.shx）、"
                                            "GeoPackage、GeoJSON 或界桩成果表；请把界线、界桩文件打包进去")
            files += inner
        elif suffix in _VECTOR | _TABLES:
            files.append(path)
        elif suffix not in _SHAPEFILE_PARTS | {".qmd", ".sbn", ".sbx", ".xml", ".qix"}:
            raise InputError(f"{path.name}: unsupported file type {suffix or '(none)'}; give .shp, .zip, "
                             ".gpkg, .geojson, .csv or .xlsx", file=path.name,
                             message_zh=f"{path.name}：不支持的文件类型 {suffix or '（无扩展名）'}；请提供 .shp、"
                                        ".zip、.gpkg、.geojson、.csv 或 .xlsx 文件")
    return files, sources


# -- reading each kind of file ----------------------------------------------------------------------------
def _read_vector(path: Path, layer: str | None, encoding: str | None) -> gpd.GeoDataFrame:
    try:
        return safe_open.read_vector(path, layer, encoding)
    except InputError:
        raise
    except UnicodeDecodeError as err:
        raise InputError(f"{path.name}: field names or values do not decode as {encoding or 'UTF-8'} ({err}); "
                         "UTF-8 shapefiles cut Chinese field names longer than 3 characters mid-character — "
                         "save the file as GBK or with pinyin-initial field names (JXDM, JZBH …), or give "
                         "--encoding", rule="dataset.encoding", file=path.name,
                         message_zh=f"{path.name}：字段名或属性值无法按 {encoding or 'UTF-8'} 解码（{err}）；"
                                    "UTF-8 编码的 shapefile 会把超过 3 个汉字的字段名从字符中间截断——请将文件"
                                    "另存为 GBK 编码，或改用拼音首字母字段名（JXDM、JZBH …），或用 --encoding "
                                    "指定编码") from err
    except Exception as err:  # pyogrio raises its own DataSourceError/DataLayerError and GDAL errors
        raise InputError(f"{path.name}: GDAL cannot read it ({safe_open.gdal_message(err)}); export the file "
                         "again", file=path.name,
                         message_zh=f"{path.name}：GDAL 无法读取（{safe_open.gdal_message(err)}）；请重新导出该文件"
                         ) from err


def _layer_epsg(path: Path, frame: gpd.GeoDataFrame, crs_override: int | None) -> int | None:
    if crs_override is not None:
        return crs_override
    if frame.crs is None:
        return None
    return crs_mod.identify_epsg(frame.crs, source=path.name)


def _read_shapefile(path: Path, crs_override, encoding_override) -> list[_Layer]:
    check_shapefile(path)
    encoding, _how = detect_dbf_encoding(path, encoding_override)
    frame = _read_vector(path, None, encoding)
    return [_Layer(frame, path.name, encoding, _layer_epsg(path, frame, crs_override))]


def _read_geopackage(path: Path, crs_override, encoding_override) -> list[_Layer]:
    try:
        names = [name for name, geometry_type in safe_open.list_layers(path) if geometry_type]
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"{path.name}: not a readable GeoPackage ({safe_open.gdal_message(err)})",
                         file=path.name,
                         message_zh=f"{path.name}：无法读取的 GeoPackage（{safe_open.gdal_message(err)}）") from err
    layers = []
    for name in names:
        frame = _read_vector(path, name, None)
        layers.append(_Layer(frame, f"{path.name}:{name}", "utf-8", _layer_epsg(path, frame, crs_override)))
    return layers


def _read_geojson(path: Path, crs_override, encoding_override) -> list[_Layer]:
    frame = _read_vector(path, None, None)
    return [_Layer(frame, path.name, "utf-8", _layer_epsg(path, frame, crs_override) or 4326)]


def _read_table(path: Path, crs_override, encoding_override) -> list[_Layer]:
    """A marker table (界桩成果表): coordinates from lon/lat columns, or x/y with --crs."""
    try:
        if path.suffix.lower() == ".xlsx":
            safe_open.sniff(path)
            with zipfile.ZipFile(path) as zf:  # an .xlsx is a zip: the same limits before openpyxl unpacks it
                _zip_sizes_checked(zf, path)
            table, encoding = pd.read_excel(path, dtype=object), "xlsx"
        else:
            text, encoding = decode_text(path.read_bytes(), encoding_override, source=path.name)
            table = pd.read_csv(io.StringIO(text), dtype=object, skipinitialspace=True)
    except InputError:
        raise
    except pd.errors.EmptyDataError as err:
        raise InputError(f"{path.name}: the table is empty (not even a header row); export it again",
                         file=path.name, message_zh=f"{path.name}：表格为空（连表头都没有）；请重新导出") from err
    except Exception as err:
        raise InputError(f"{path.name}: the table cannot be read ({err}); save it as CSV (UTF-8) or .xlsx",
                         file=path.name,
                         message_zh=f"{path.name}：无法读取该表格（{err}）；请另存为 CSV（UTF-8）或 .xlsx"
                         ) from err
    table.columns = [str(c).strip() for c in table.columns]
    return [_Layer(table, path.name, encoding, crs_override)]


_READERS = {".shp": _read_shapefile, ".gpkg": _read_geopackage, ".geojson": _read_geojson,
            ".json": _read_geojson, ".csv": _read_table, ".xlsx": _read_table}


# -- turning layers into canonical lines and markers -------------------------------------------------------
def _kind(layer: _Layer) -> str:
    if not isinstance(layer.frame, gpd.GeoDataFrame):
        return "markers"
    # the names of the type ids present (as GeoSeries.geom_type gives them, missing geometries left out):
    # 0.01 s instead of 0.1 s for 182 k lines, which geom_type names one by one
    ids = np.unique(shapely.get_type_id(layer.frame.geometry.values))
    types = {_GEOMETRY_TYPES[i] for i in ids if i >= 0}
    if types <= _LINE_TYPES and types:
        return "lines"
    if types <= _POINT_TYPES and types:
        return "markers"
    if not types:
        raise InputError(f"{layer.source}: the layer holds no features (or none with geometry); export "
                         "it again with its features", file=layer.source,
                         message_zh=f"{layer.source}：图层中没有要素（或没有带几何的要素）；请连同要素重新导出")
    raise InputError(f"{layer.source}: geometry {', '.join(sorted(types))} is neither boundary lines "
                     "(LineString) nor markers (Point); send lines and markers as separate layers",
                     file=layer.source,
                     message_zh=f"{layer.source}：几何类型 {'、'.join(sorted(types))} 既不是界线（LineString）"
                                "也不是界桩（Point）；请将界线和界桩分别存为不同图层")


def _table_geometry(layer: _Layer, frame: pd.DataFrame, issues: list[Issue]) -> tuple[gpd.GeoSeries, int]:
    """Geometry of a marker table from its declared lon/lat, or x (northing) / y (easting) with --crs."""
    if frame["lon"].notna().any() and frame["lat"].notna().any():
        epsg = layer.epsg or 4490
        if crs_mod.gauss_kruger(epsg):
            raise InputError(f"{layer.source}: --crs EPSG:{epsg} is projected but the table gives longitude/"
                             "latitude; drop --crs or give EPSG:4490", rule="dataset.crs_unsupported",
                             file=layer.source,
                             message_zh=f"{layer.source}：--crs EPSG:{epsg} 是投影坐标系，但表中给的是经纬度；"
                                        "请去掉 --crs 或改为 EPSG:4490")
        return gpd.GeoSeries(gpd.points_from_xy(frame["lon"], frame["lat"]), crs=epsg), epsg
    if not (frame["x"].notna().any() and frame["y"].notna().any()):
        raise InputError(f"{layer.source}: the table has neither longitude/latitude (经度/纬度, JD/WD) nor "
                         "X/Y (纵坐标/横坐标, ZZB/HZB) columns; name its coordinate columns so",
                         rule="dataset.schema", file=layer.source,
                         message_zh=f"{layer.source}：表中既没有经度/纬度列（经度/纬度、JD/WD），也没有 X/Y 列"
                                    "（纵坐标/横坐标、ZZB/HZB）；请按此命名坐标列")
    if layer.epsg is None:
        raise InputError(f"{layer.source}: the table gives Gauss-Krüger X/Y but no coordinate system; give "
                         "it with --crs EPSG:NNNN (e.g. EPSG:4547 for the 3° zone at 114°E)",
                         rule="dataset.crs_missing", file=layer.source,
                         message_zh=f"{layer.source}：表中给的是高斯-克吕格 X/Y 坐标，但没有坐标系；请用 "
                                    "--crs EPSG:NNNN 指定（如中央经线 114°E 的 3° 带为 EPSG:4547）")
    easting, northing = np.array(frame["y"], dtype=float), np.array(frame["x"], dtype=float)
    bad = crs_mod.implausible(layer.epsg, easting, northing)
    swapped = bad & ~crs_mod.implausible(layer.epsg, northing, easting)
    for i in np.flatnonzero(swapped):
        easting[i], northing[i] = northing[i], easting[i]
        issues.append(Issue("marker.axis_swapped", "error", "markers", frame["marker_id"].iloc[i], None, None,
                            f"界桩 {frame['marker_id'].iloc[i]} 的 X(纵坐标)={frame['x'].iloc[i]} 与 "
                            f"Y(横坐标)={frame['y'].iloc[i]} 互换了：X 应为北坐标，Y 应为东坐标；请对调两列",
                            f"marker {frame['marker_id'].iloc[i]}: X={frame['x'].iloc[i]} and "
                            f"Y={frame['y'].iloc[i]} are swapped — X must be the northing and Y the "
                            "easting; swap the two columns", file=layer.source))
    return gpd.GeoSeries(gpd.points_from_xy(easting, northing), crs=layer.epsg), layer.epsg


def _to_storage(geometry: gpd.GeoSeries, epsg: int, source: str, province: str,
                issues: list[Issue]) -> gpd.GeoSeries:
    """Check that the coordinates are possible in ``epsg``, then bring them to EPSG:4490.

    Gauss-Krüger data must then lie in or next to the submitting province (else exit 2 with the zone that
    fits); beyond the zone's nominal strip it is accepted with the warning ``dataset.zone_extent``.
    """
    coords = shapely.get_coordinates(geometry.values)
    if len(coords):
        bad = crs_mod.implausible(epsg, coords[:, 0], coords[:, 1])
        if bad.any():
            x, y = coords[np.argmax(bad)]
            hint, hint_zh = _crs_hint(epsg, x, y)
            raise InputError(f"{source}: coordinates such as ({x:.3f}, {y:.3f}) are impossible for "
                             f"EPSG:{epsg} in China{hint}", rule="dataset.crs_unsupported", file=source,
                             message_zh=f"{source}：坐标（如 ({x:.3f}, {y:.3f})）在 EPSG:{epsg} 下不可能位于"
                                        f"中国境内{hint_zh}")
    if epsg in crs_mod.GEOGRAPHIC:
        return gpd.GeoSeries(np.asarray(geometry.values, dtype=object), crs=STORAGE_CRS)
    lonlat = crs_mod.project(epsg, 4490, coords[:, 0], coords[:, 1])
    _check_zone_use(epsg, coords, lonlat[:, 0], lonlat[:, 1], source, province, issues)
    # what shapely.transform does, without its second get_coordinates: new geometries with the projected
    # coordinates, in get_coordinates' order (the read ones are left as they are)
    return gpd.GeoSeries(shapely.set_coordinates(np.array(geometry.values, dtype=object), lonlat),
                         crs=STORAGE_CRS)


def _check_zone_use(epsg: int, coords: np.ndarray, lon: np.ndarray, lat: np.ndarray, source: str,
                    province: str, issues: list[Issue]) -> None:
    """Zone ``epsg`` read right: the data lies in or next to the province (SPEC §5). Raises
    ``dataset.crs_unsupported`` with the zone that fits when it does not; warns ``dataset.zone_extent``
    when it reaches beyond the zone's nominal strip."""
    far = crs_mod.far_from_province(province, lon, lat)
    name = PROVINCES.get(province[:2], province)
    if far.mean() > crs_mod.FAR_SHARE:
        k = int(np.argmax(far))
        fits = crs_mod.zone_fitting_province(province, coords[:, 0], coords[:, 1], exclude=epsg)
        hint = (f"; read in EPSG:{fits} they lie in {name}: give --crs EPSG:{fits}" if fits else
                "; no Gauss-Krüger zone puts them there: check --province, the zone and whether X and Y "
                "are swapped")
        hint_zh = (f"；按 EPSG:{fits} 解读则位于{name}：请用 --crs EPSG:{fits} 指定" if fits else
                   "；没有哪个高斯-克吕格投影带能使其落在该省：请核对 --province、投影带以及 X、Y 是否颠倒")
        raise InputError(
            f"{source}: read in EPSG:{epsg}, {far.mean():.0%} of the coordinates, e.g. ({coords[k, 0]:.3f}, "
            f"{coords[k, 1]:.3f}) at {lon[k]:.4f}°E {lat[k]:.4f}°N, lie more than {crs_mod.NEAR_KM:.0f} km "
            f"from the submitting province {province} ({name}): wrong zone{hint}",
            rule="dataset.crs_unsupported", file=source,
            message_zh=f"{source}：按 EPSG:{epsg} 解读，{far.mean():.0%} 的坐标（如 ({coords[k, 0]:.3f}, "
                       f"{coords[k, 1]:.3f})，位于 {lon[k]:.4f}°E {lat[k]:.4f}°N）距报送省份{name}（{province}）"
                       f"超过 {crs_mod.NEAR_KM:.0f} km：投影带有误{hint_zh}")
    extent = crs_mod.zone_extent(epsg, lon[~far], lat[~far])
    if extent is not None:
        issues.append(_zone_extent_issue(extent, source, name))


def _zone_extent_issue(extent, source: str, name: str) -> Issue:
    """The ``dataset.zone_extent`` warning: how far beyond the strip, and the scale error there."""
    zone = crs_mod.gauss_kruger(extent.epsg)
    per_km = (extent.scale - 1) * 1000
    return Issue(
        "dataset.zone_extent", "warning", "dataset", None, extent.lon, extent.lat,
        f"{source}：数据超出 EPSG:{extent.epsg}（{zone.width}° 带，中央经线 {zone.central_meridian}°E）的名义带宽范围 "
        f"{extent.beyond_km:.1f} km（{extent.beyond_deg:.2f}°，距中央经线 {extent.from_meridian_deg:.2f}°），"
        f"该处长度比例因子 k={extent.scale:.6f}（每公里长 {per_km:.2f} m）；数据位于{name}及其邻近，"
        "按该带精确投影读入",
        f"{source}: the data reaches {extent.beyond_km:.1f} km ({extent.beyond_deg:.2f}°) beyond the nominal strip "
        f"of EPSG:{extent.epsg} ({zone.width}° zone, central meridian {zone.central_meridian}°E), "
        f"{extent.from_meridian_deg:.2f}° from the meridian, where the scale factor is k={extent.scale:.6f} "
        f"({per_km:.2f} m per km); it lies in or next to {name}, so it is read in that zone exactly",
        file=source)


def _crs_hint(epsg: int, x: float, y: float) -> tuple[str, str]:
    """What probably went wrong with impossible coordinates, in English and in Chinese."""
    zone = int(x // 1_000_000) if x > 1_000_000 else None
    guess = next((e for e in range(4491, 4534) if (g := crs_mod.gauss_kruger(e)).prefixed and g.zone == zone), None)
    named = (f" (the easting prefix {zone} names EPSG:{guess})" if guess else "",
             f"（横坐标带号前缀 {zone} 对应 EPSG:{guess}）" if guess else "")
    if epsg not in crs_mod.GEOGRAPHIC:
        return (" — outside this zone's reach; check the zone (central meridian) and whether X and Y are "
                f"swapped, then give the right --crs{named[0]}",
                "——超出该投影带范围；请核对投影带（中央经线）以及 X、Y 是否颠倒，再用 --crs 指定正确的坐标系"
                f"{named[1]}")
    if abs(x) <= 180 and abs(y) <= 90:
        return (" — outside China's extent; are longitude and latitude swapped?",
                "——超出中国范围；经度和纬度是否颠倒了？")
    return (" — they look like projected metres (Gauss-Krüger), not degrees; give the right CRS with "
            f"--crs{named[0]}",
            f"——这些值像是投影坐标（高斯-克吕格，单位米），而不是度；请用 --crs 指定正确的坐标系{named[1]}")


def _canonical(layer: _Layer, kind: str, field_map, issues: list[Issue]) -> pd.DataFrame:
    frame = layer.frame
    columns = [c for c in frame.columns if c != getattr(frame, "_geometry_column_name", None)]
    rename, conflicts = rename_columns(columns, kind, field_map)
    for conflict, conflict_zh in conflicts:
        raise InputError(f"{layer.source}: {conflict}; keep one or map them with --field-map",
                         rule="dataset.schema", file=layer.source,
                         message_zh=f"{layer.source}：{conflict_zh}；请只保留其一，或用 --field-map 指明对应关系")
    missing = [f for f in REQUIRED[kind] if f not in rename.values()]
    for field in missing:
        names = "、".join(ALIASES[kind][field][:4])
        issues.append(Issue("dataset.schema", "error", kind, None, None, None,
                            f"{layer.source}: 缺少必填字段 {field}（可用名称：{names}）；请添加该字段或用 "
                            "--field-map 指明",
                            f"{layer.source}: required field {field} is missing (accepted names: {field}, "
                            f"{', '.join(ALIASES[kind][field][:4])}); add it or map yours with --field-map",
                            file=layer.source))
    fields = LINE_FIELDS if kind == "lines" else MARKER_FIELDS
    out = frame[list(rename)].rename(columns=rename).reindex(columns=list(fields))
    out["source_file"] = layer.source
    out["source_row"] = np.arange(1, len(frame) + 1)
    return out


def _finish_lines(frame: pd.DataFrame) -> pd.DataFrame:
    for field in LINE_FIELDS:
        frame[field] = normalise_codes(frame[field])
    return frame


def _finish_markers(frame: pd.DataFrame) -> pd.DataFrame:
    for field in ("marker_id", "line_id"):
        frame[field] = normalise_codes(frame[field])
    frame["marker_type"] = map_distinct(frame["marker_type"], normalise_marker_type).astype(object)
    for field in ("x", "y", "h"):
        frame[field] = pd.to_numeric(frame[field], errors="coerce").astype(float)
    for field in ("lon", "lat"):
        column = frame[field]
        # a float64 column (also the NaN of one the layer does not have) is what parse_angle makes of it, value
        # for value (float(value)): taken as it is, 0.004 s less per column of 37 k markers
        frame[field] = (column.astype(float) if column.dtype == np.float64 else
                        map_distinct(column, parse_angle).astype(float))
    return frame


def _layers(files: list[Path], crs_override, encoding_override, progress) -> Iterator[_Layer]:
    """Each file's layers; ``progress`` True draws a bar on stderr, a callable is told of each file
    (``progress("read", done, total, file name)``, as :data:`boundaries.pipeline.Progress`)."""
    from tqdm import tqdm

    if callable(progress):
        for done, path in enumerate(files):
            progress("read", done, len(files), path.name)
            yield from _READERS[path.suffix.lower()](path, crs_override, encoding_override)
        return
    for path in tqdm(files, desc="reading", unit="file", disable=not progress or len(files) < 2,
                     leave=False):
        yield from _READERS[path.suffix.lower()](path, crs_override, encoding_override)


def read_submission(paths: list[Path], province: str, *, crs: str | None = None, encoding: str | None = None,
                    field_map: dict[str, str] | None = None, progress=False) -> Submission:
    """Read every file of a submission into canonical lines and markers in EPSG:4490 (``progress``: a bar on
    stderr if True, or a callable told of each file, see :func:`_layers`).

    Raises InputError (exit 2) when the input cannot be used at all; data problems are left as issues.
    """
    province = check_province(province)
    crs_override = crs_mod.parse_crs_option(crs)
    parts: dict[str, list[pd.DataFrame]] = {"lines": [], "markers": []}
    issues: list[Issue] = []
    layers: list[dict] = []
    encodings, crss = [], []
    with contextlib.ExitStack() as stack:
        files, sources = _expand(list(paths), stack)
        # the checksums in a thread while the layers are read: hashlib releases the GIL on large blocks, so
        # the hashing (0.07 s for the 106 MB grid GeoPackage) overlaps GDAL's reading instead of preceding it
        hashing = stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix="quhua-sha256"))
        stack.callback(hashing.shutdown, cancel_futures=True)  # an unusable input: no need to finish them
        digests = hashing.map(_sha256, sources)
        if not files:
            raise InputError("no file to read: give .shp, .zip, .gpkg, .geojson, .csv or .xlsx paths",
                             message_zh="没有可读取的文件：请给出 .shp、.zip、.gpkg、.geojson、.csv 或 .xlsx 文件路径")
        for layer in _layers(files, crs_override, encoding, progress):
            kind = _kind(layer)
            frame = _canonical(layer, kind, field_map or {}, issues)
            frame = _finish_lines(frame) if kind == "lines" else _finish_markers(frame)
            if isinstance(layer.frame, gpd.GeoDataFrame):
                if layer.epsg is None:
                    raise InputError(f"{layer.source}: no coordinate system (the .prj file is missing) and "
                                     "none given; add the .prj or give --crs EPSG:NNNN (e.g. EPSG:4547)",
                                     rule="dataset.crs_missing", file=layer.source,
                                     message_zh=f"{layer.source}：没有坐标系（缺少 .prj 文件），也未指定；请补上 "
                                                ".prj 文件，或用 --crs EPSG:NNNN 指定（如 EPSG:4547）")
                geometry, epsg = layer.frame.geometry, layer.epsg
            else:
                geometry, epsg = _table_geometry(layer, frame, issues)
            stored = _to_storage(geometry, epsg, layer.source, province, issues)
            frame = gpd.GeoDataFrame(frame, geometry=stored.values, crs=STORAGE_CRS)
            parts[kind].append(frame)
            encodings.append(layer.encoding)
            crss.append(f"EPSG:{epsg}")
            layers.append({"source": layer.source, "layer": kind, "features": len(frame),
                           "encoding": layer.encoding, "crs": f"EPSG:{epsg}"})
        if not any(len(frame) for frames in parts.values() for frame in frames):
            _refuse_empty(files)
        source_files = [SourceFile(name=p.name, sha256=digest, size=p.stat().st_size)
                        for p, digest in zip(sources, digests, strict=True)]
    # built once with its parts (the empty canonical frame only for a kind of layer the files do not hold:
    # Submission's defaults would build both, 0.007 s)
    return Submission(province=province,
                      lines=_concat(parts["lines"]) if parts["lines"] else empty_lines(),
                      markers=_concat(parts["markers"]) if parts["markers"] else empty_markers(),
                      files=source_files, layers=layers, encoding=", ".join(dict.fromkeys(encodings)),
                      declared_crs=", ".join(dict.fromkeys(crss)), issues=issues)


def _refuse_empty(files: list[Path]) -> None:
    """Refuse a submission with neither line nor marker, naming the layers its files do hold."""
    found = []
    for path in files:
        if path.suffix.lower() == ".gpkg":
            found += [f"{path.name}:{name} ({kind or 'table'})" for name, kind in safe_open.list_layers(path)]
        else:
            found.append(path.name)
    listed = ", ".join(found) or "none"
    name = files[0].name if len(files) == 1 else None
    where, where_zh = (f"{name}: ", f"{name}：") if name else ("", "")
    raise InputError(f"{where}the submission holds no boundary line and no marker (layers found: {listed}); send the "
                     "line layer (LineString) and/or the marker layer (Point) or marker table",
                     file=name,
                     message_zh=f"{where_zh}该报送既没有界线也没有界桩（找到的图层：{listed if found else '无'}）；"
                                "请提交界线图层（LineString）和/或界桩图层（Point）或界桩成果表")


def _concat(frames: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    if len(frames) == 1:
        return frames[0].reset_index(drop=True)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=STORAGE_CRS)
