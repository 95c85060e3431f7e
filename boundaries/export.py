"""``quhua export``: a stored layer as GeoJSON (RFC 7946), GeoPackage, CSV (WKT) or shapefile (SPEC §7)."""

from __future__ import annotations

import functools
import inspect
from importlib.metadata import entry_points
from pathlib import Path

import geopandas as gpd
import pandas as pd

from boundaries.errors import ConfigError
from boundaries.store import Page, Store

__all__ = ["DATASET_OPTIONS", "FORMATS", "SHAPEFILE_NAMES", "export_layer", "get_any_feature", "neutralise_formulas",
           "parse_bbox", "query_any_layer", "read_any_layer", "registered_layers"]

#: format → (GDAL driver, file suffix, layer creation options)
FORMATS = {
    "geojson": ("GeoJSON", ".geojson", {"RFC7946": "YES", "WRITE_BBOX": "YES"}),
    "gpkg": ("GPKG", ".gpkg", {}),
    "csv": ("CSV", ".csv", {"GEOMETRY": "AS_WKT"}),
    "shp": ("ESRI Shapefile", ".shp", {"ENCODING": "UTF-8"}),
}
#: GDAL driver → dataset creation options: GeoPackages as OGC GeoPackage 1.3, the version SPEC §2 names (GDAL
#: writes 1.4 by default, which Debian's GDAL 3.6 and QGIS 3.22 warn about)
DATASET_OPTIONS = {"GPKG": {"VERSION": "1.3"}}
_INTERNAL = ("fid", "valid_to", "superseded_by", "retired_at", "report")
#: Shapefile field names are at most 10 bytes: the canonical names that do not fit, shortened (documented).
SHAPEFILE_NAMES = {"marker_type": "marker_typ", "submission_id": "subm_id", "source_file": "src_file",
                   "superseded_by": "supersd_by", "message_en": "msg_en", "recorded_at": "recorded",
                   "retired_at": "retired"}


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``"W,S,E,N"`` in degrees → a checked tuple."""
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError as err:
        raise ConfigError(f"--bbox {text!r}: give four numbers W,S,E,N in degrees, e.g. 113.5,24.5,118.5,30.1",
                          message_zh=f"--bbox {text!r}：请给出四个以度为单位的数 西,南,东,北，"
                                     "如 113.5,24.5,118.5,30.1") from err
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise ConfigError(f"--bbox {text!r}: needs W < E within ±180 and S < N within ±90 (degrees)",
                          message_zh=f"--bbox {text!r}：须满足 西 < 东（在 ±180 之内）且 南 < 北（在 ±90 之内），"
                                     "单位为度")
    return w, s, e, n


@functools.cache
def registered_layers() -> dict[str, object]:
    """The layers other packages register under ``quhua.layers``: name → entry point. Read once per process
    (scanning the installed packages' metadata took 13 ms, twice per API request)."""
    return {entry.name: entry for entry in entry_points(group="quhua.layers")}


@functools.cache
def _provider(layer: str):
    """The ``quhua.layers`` entry registered as ``layer`` (loaded), or a ConfigError naming what is there."""
    from boundaries.store import LAYERS

    if layer in registered_layers():
        return registered_layers()[layer].load()
    raise ConfigError(f"the layer {layer!r} is not available in this installation; "
                      f"available: {', '.join(LAYERS)}",
                      message_zh=f"本安装中没有图层 {layer!r}；可用图层：{'、'.join(LAYERS)}")


def read_any_layer(store: Store, layer: str, **filters) -> gpd.GeoDataFrame | pd.DataFrame:
    """A core layer from the store, or a layer another package registers under ``quhua.layers``
    (the gazetteer's ``names`` and ``divisions``) as ``reader(store, province=, bbox=, history=)``; ``at``
    (a legal date) is passed on when given, to a provider only if its reader takes it."""
    from boundaries.store import LAYERS

    if filters.get("at") is None:
        filters.pop("at", None)
    if layer in LAYERS:
        return store.read_layer(layer, **filters)
    provider = _provider(layer)
    if "at" in filters and "at" not in inspect.signature(provider).parameters:
        raise ConfigError(f"the layer {layer!r} has no legal time: --at applies to lines and markers",
                          message_zh=f"图层 {layer!r} 没有法定时间：--at 只适用于界线与界桩")
    return provider(store, **filters)


def query_any_layer(store: Store, layer: str, **query) -> Page:
    """A page of a core layer (:meth:`Store.query`) or of a registered one: through its provider's own
    ``query`` (the gazetteer's, pushed down to the database) when it has one, else read whole and paged
    here (a layer such as ``divisions``, which only ``quhua export`` reads)."""
    from boundaries.store import LAYERS

    if layer in LAYERS:
        return store.query(layer, **query)
    provider = _provider(layer)
    if hasattr(provider, "query"):
        return provider.query(store, **query)
    frame = provider(store, province=query.get("province"), bbox=query.get("bbox"),
                     history=query.get("history", False))
    for name, value in (query.get("properties") or {}).items():
        frame = frame[frame[name].isin(value) if isinstance(value, list | tuple) else frame[name] == value]
    offset, limit = query.get("offset", 0), query.get("limit")
    end = None if limit is None else offset + limit
    return Page(frame.iloc[offset:end].reset_index(drop=True), len(frame), end is not None and end < len(frame))


def get_any_feature(store: Store, layer: str, identifier, **filters) -> gpd.GeoDataFrame | pd.DataFrame:
    """One feature of a core or registered layer by id: a frame of one row, or of none."""
    from boundaries.store import LAYERS

    if layer in LAYERS:
        return store.get(layer, identifier, **filters)
    return _provider(layer).get(store, identifier, **filters)


#: OWASP CSV injection: a text cell starting with one of these is read by spreadsheets as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells that a spreadsheet would evaluate (``=cmd|…``, ``@SUM…``, ``+1``, ``-1+2``, a
    leading tab or CR) start with an apostrophe, as OWASP's CSV-injection rule says; numbers stay numbers."""
    frame = frame.copy()
    for column in frame.columns:
        if column != getattr(frame, "_geometry_column_name", None) and not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(
                lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    return frame


def export_layer(store: Store, layer: str, output: Path, *, fmt: str | None = None, province: str | None = None,
                 bbox=None, history: bool = False, at=None) -> int:
    """Write a layer to ``output``; returns the number of features written. ``at`` (a date): the lines and
    markers in force that day in legal time (:meth:`Store.query`), with their legal interval
    (``valid_from``, ``valid_to``) and what superseded them since."""
    import pyogrio

    fmt = fmt or next((k for k, v in FORMATS.items() if output.suffix.lower() == v[1]), "geojson")
    driver, _suffix, options = FORMATS[fmt]
    frame = read_any_layer(store, layer, province=province, bbox=bbox, history=history, at=at)
    versions = history or at is not None
    frame = frame.drop(columns=[c for c in _INTERNAL if c in frame.columns and not (versions and c != "fid")])
    if not isinstance(frame, gpd.GeoDataFrame):
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame), crs="EPSG:4490"))
    if fmt == "csv":
        frame = neutralise_formulas(frame)
    if fmt == "shp":
        frame = frame.rename(columns=SHAPEFILE_NAMES)
    if output.exists():
        output.unlink()  # an export replaces the file, as ogr2ogr -overwrite would
    pyogrio.write_dataframe(frame, output, driver=driver, layer=layer, layer_options=options or None,
                            dataset_options=DATASET_OPTIONS.get(driver))
    return len(frame)
