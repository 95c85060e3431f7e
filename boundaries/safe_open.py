"""Opening untrusted vector files with GDAL so that a file can only ever be read as itself (issue 12).

GDAL picks its driver by a file's content, not its name: an XML VRT uploaded as ``x.gpkg`` is opened
by the VRT driver, which then reads whatever the XML names (``/etc/passwd``, the database,
``/proc/self/environ``, ``/vsicurl/`` URLs). Following GDAL's guidance for untrusted input, every
vector file of a submission (and of a gazetteer import) is opened here, and only here:

* the file's first bytes must be those of the type its extension claims (a GeoPackage is SQLite, a
  shapefile has the ESRI header, GeoJSON is a JSON object), checked before GDAL sees it;
* GDAL is then told which driver to use (``GPKG:`` and ``GeoJSON:`` connection prefixes; a ``.shp``
  with the ESRI header is claimed by no driver before ESRI Shapefile), so no other driver can claim it;
* paths naming GDAL's virtual file systems (``/vsi…``) or URLs are refused;
* a GeoJSON "link" CRS (which GDAL fetches from its ``href``) is refused;
* GDAL's network access through ``/vsicurl/`` and its HTTP client is switched off while they are read
  (quhua never reads input over the network with GDAL).

The GPKG, GeoJSON and Shapefile drivers read no file other than the dataset and its sidecars; a
GeoPackage's SQLite ``VirtualOGR`` tables are unavailable in the GPKG driver (tested in
tests/boundaries/test_hostile.py).
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import threading
import warnings
from pathlib import Path

from boundaries.errors import InputError

__all__ = ["SHAPE_FILE_CODE", "gdal_message", "list_layers", "read_vector", "sniff"]

#: What GDAL may do while quhua reads input: no ``/vsicurl/`` file (no extension is allowed), no HTTP
#: (an unreachable proxy for GDAL's own HTTP client), no Python in VRTs.
_GDAL_HARDENING = {
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".quhua-no-network",
    "GDAL_HTTP_PROXY": "127.0.0.1:9",
    "GDAL_HTTP_MAX_RETRY": "0",
    "GDAL_HTTP_TIMEOUT": "1",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
}
_guard = threading.Lock()
_guarded = 0  # untrusted opens under way (the options are on while there is one)
_saved: dict[str, str | None] = {}

_SQLITE = b"SQLite format 3\x00"
SHAPE_FILE_CODE = b"\x00\x00\x27\x0a"  # 9994, big-endian: the first bytes of a .shp and a .shx
#: extension → (what the file must be, in English and Chinese)
_KINDS = {".gpkg": ("a GeoPackage (SQLite database)", "GeoPackage（SQLite 数据库）"),
          ".shp": ("an ESRI shapefile", "ESRI shapefile"),
          ".geojson": ("a GeoJSON object", "GeoJSON 对象"),
          ".json": ("a GeoJSON object", "GeoJSON 对象"),
          ".xlsx": ("an Excel workbook (.xlsx)", "Excel 工作簿（.xlsx）")}
_DRIVER_PREFIX = {".gpkg": "GPKG:", ".geojson": "GeoJSON:", ".json": "GeoJSON:", ".shp": ""}


@contextlib.contextmanager
def _hardened():
    """GDAL's network access off while any untrusted file is being opened (config options are process-wide,
    so they are set by the first concurrent open and restored by the last); GDAL used elsewhere in the
    process, e.g. the tests' OAPIF client, keeps its own settings otherwise."""
    import pyogrio

    global _guarded
    with _guard:
        if _guarded == 0:
            _saved.update({key: pyogrio.get_gdal_config_option(key) for key in _GDAL_HARDENING})
            pyogrio.set_gdal_config_options(_GDAL_HARDENING)
        _guarded += 1
    try:
        yield
    finally:
        with _guard:
            _guarded -= 1
            if _guarded == 0:
                pyogrio.set_gdal_config_options(dict(_saved))


def _looks_like(suffix: str, head: bytes) -> bool:
    if suffix == ".gpkg":
        return head.startswith(_SQLITE)
    if suffix == ".shp":
        return head.startswith(SHAPE_FILE_CODE)
    if suffix in (".geojson", ".json"):
        text = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
        return text.startswith(b"{")
    if suffix == ".xlsx":
        return head.startswith(b"PK\x03\x04")
    return True


def sniff(path: Path) -> None:
    """Refuse ``path`` unless its first bytes are those of the type its extension claims."""
    path = Path(path)
    text = str(path)
    if text.lower().startswith("/vsi") or "://" in text:
        raise InputError(f"{path.name}: GDAL virtual-file or network paths are not accepted; give a local file",
                         file=path.name, message_zh=f"{path.name}：不接受 GDAL 虚拟文件或网络路径；请给出本地文件")
    suffix = path.suffix.lower()
    if suffix not in _KINDS:
        return
    with path.open("rb") as f:
        head = f.read(64)
    if not _looks_like(suffix, head):
        what, what_zh = _KINDS[suffix]
        raise InputError(f"{path.name}: the file is not {what} although its name ends in {suffix} (its content "
                         "is of another type, e.g. a GDAL VRT or text) — refused; export the data again as "
                         f"a real {suffix} file", file=path.name,
                         message_zh=f"{path.name}：文件名以 {suffix} 结尾，但内容不是{what_zh}（而是其他类型，"
                                    f"如 GDAL VRT 或文本），已拒收；请重新导出为真正的 {suffix} 文件")
    if suffix in (".geojson", ".json"):
        _refuse_crs_link(path)


#: A GeoJSON 2008 "link" CRS, which GDAL fetches from its href (tested: it does, to any URL).
_CRS_LINK = re.compile(rb'"crs"\s*:\s*\{.{0,2000}?"type"\s*:\s*"link"', re.IGNORECASE | re.DOTALL)


def _refuse_crs_link(path: Path) -> None:
    """Refuse a GeoJSON whose CRS is a link: GDAL would fetch it (a URL of the sender's choice)."""
    if _CRS_LINK.search(path.read_bytes()):
        raise InputError(f"{path.name}: the GeoJSON names its coordinate system by a link (\"crs\": {{\"type\": "
                         "\"link\"}}), which is not fetched — refused; save it with EPSG:4490 or EPSG:4326 "
                         "(RFC 7946, no crs member)", rule="dataset.crs_unsupported", file=path.name,
                         message_zh=f"{path.name}：GeoJSON 用链接指定坐标系（\"crs\": {{\"type\": \"link\"}}），"
                                    "不会去获取，已拒收；请以 EPSG:4490 或 EPSG:4326 另存（RFC 7946，不含 crs 成员）")


def gdal_message(err: Exception) -> str:
    """GDAL's complaint, cut to its first line and 160 characters: enough to act on, never a file's content."""
    lines = str(err).strip().splitlines() or [type(err).__name__]
    return lines[0][:160]


def _connection(path: Path) -> str:
    """The GDAL connection string that opens ``path`` (checked by :func:`sniff`) with its one driver."""
    sniff(path)
    prefix = _DRIVER_PREFIX.get(Path(path).suffix.lower())
    if prefix is None:
        raise InputError(f"{Path(path).name}: not a vector file quhua reads (.shp, .gpkg, .geojson)",
                         file=Path(path).name,
                         message_zh=f"{Path(path).name}：不是 quhua 可读取的矢量文件（.shp、.gpkg、.geojson）")
    return prefix + str(Path(path).resolve())


def list_layers(path: Path) -> list[tuple[str, str | None]]:
    """``(name, geometry type or None)`` of every layer of a vector file, opened only by its own driver."""
    import pyogrio

    with _hardened():
        return [(str(name), kind) for name, kind in pyogrio.list_layers(_connection(path))]


#: pyarrow installed (a dependency in setup.cfg: pyogrio reads GeoPackages through it; without it, the row path).
_ARROW = importlib.util.find_spec("pyarrow") is not None


def read_vector(path: Path, layer: str | None = None, encoding: str | None = None):
    """One layer of a vector file as a GeoDataFrame (a DataFrame for a table), opened only by its own driver.

    Raises :class:`InputError` when the file is not what its extension says; GDAL's own errors
    (pyogrio's DataSourceError …) propagate for the caller to word.
    """
    import pyogrio

    kwargs = {"layer": layer} if layer is not None else {}
    if encoding:
        kwargs["encoding"] = encoding
    if Path(path).suffix.lower() == ".gpkg" and _ARROW:
        # a GeoPackage through Arrow: 0.43 s instead of 0.69 s for 182 k lines, the same frame (values,
        # dtypes, index: compared on the bench sets); shapefiles keep the plain path, whose encoding
        # handling (.cpg, --encoding) the readers' tests pin
        kwargs["use_arrow"] = True
    with _hardened(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's notes on e.g. missing .prj
        return pyogrio.read_dataframe(_connection(path), **kwargs)
