"""OGC API – Features Part 1 Core over the store, without a web framework (as pygeoapi's core).

Every public function returns ``(headers, status, content)`` with ``content`` a JSON text; one adapter in
:mod:`webmap.views.api` turns that into a Flask response. Collections: ``lines`` (界线), ``markers``
(界桩), ``issues`` (质检问题) and, when the gazetteer provides them, ``names`` (地名) and ``name_extents``
(地名范围: the polygons and lines of the names that have one). Items take ``bbox``,
``limit``, ``offset``, ``province``, one ``PROPERTY=value`` equality filter per queryable (Part 1's
/rec/core/fc-filters, as pygeoapi) and, for maps (not part of Part 1; GDAL never sends them), ``zoom``,
which simplifies lines to half a screen pixel at that zoom and rounds coordinates to match,
``properties`` (a comma-separated subset, as pygeoapi) and ``history=true`` (superseded versions too);
``datetime`` (Part 1 §7.15.6: an instant, a closed interval ``A/B`` or an open one ``../B``, ``A/..``) keeps
the lines and markers whose legal interval (``valid_from``–``valid_to``, :mod:`boundaries.legaltime`)
contains the instant or meets the interval, whatever their status today (a day is legal time's unit: an
instant stands for its UTC day); any other parameter is a 400 (/req/core/query-param-unknown). The API
definition is :mod:`webmap.openapi`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import shapely

from boundaries.export import get_any_feature, query_any_layer, registered_layers
from boundaries.readers import PROVINCES
from boundaries.store import Store
from webmap.cache import per_row
from webmap.crs import CRS84, STORAGE_CRS, SUPPORTED, bbox_to_lonlat, project

__all__ = ["COLLECTIONS", "CONFORMANCE", "PROPERTIES", "collection", "collections", "conformance",
           "feature_collection_json", "features_json", "item", "items", "json_response", "landing",
           "parse_items_query", "queryables"]

JSON, GEOJSON = "application/json", "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"  # the exact type QGIS and OWSLib look for
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    # OGC API – Tiles Part 1, served by webmap.tiles
    *(f"http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/{c}"
      for c in ("core", "tileset", "tilesets-list", "geodata-tilesets", "mvt")),
]
#: the collections with vector tiles (webmap.tiles: ``collections/{id}/tiles``)
TILED = ("lines", "markers")
#: collection id → (title, description)
COLLECTIONS = {
    "lines": ("行政区域界线 Boundary lines", "Current boundary lines (界线), EPSG:4490, one feature per line"),
    "markers": ("界桩 Boundary markers", "Current boundary markers (界桩) with declared coordinates"),
    "names": ("地名 Place names", "The gazetteer's standard names (地名)"),
    "name_extents": ("地名范围 Place-name extents", "The polygons and lines of the names that have one (范围)"),
    "issues": ("质检问题 QA issues", "Findings of the checks on accepted submissions (SPEC §5)"),
}
_S, _I, _N = {"type": "string"}, {"type": "integer"}, {"type": "number"}
_TIME = {"type": "string", "format": "date-time"}
_VERSIONED = {"province": _S, "submission_id": _I, "status": _S, "superseded_by": _I, "valid_from": _TIME,
              "valid_to": _TIME, "source_file": _S, "recorded_at": _TIME, "retired_at": _TIME}
_NAME = {"id": _I, "name": _S, "pinyin": _S, "class": _S, "subclass": _S, "code": _S, "aliases": _S,
         "status": _S, "valid_from": _S, "valid_to": _S, "source": _S, "source_id": _S, "approved_by": _S,
         "approved_on": _S, "superseded_by": _I, "lon": _N, "lat": _N, "population": _N}
#: collection id → the properties its features carry (JSON Schema), as the stores read them (a test checks
#: every served feature against this); each is a queryable: ``?PROPERTY=value`` filters on it. Written out
#: rather than read from the store because a store knows its columns only by reading its rows.
PROPERTIES = {
    "lines": {"line_id": _S, "left_code": _S, "right_code": _S, "name": _S, **_VERSIONED},
    "markers": {"marker_id": _S, "marker_type": _S, "line_id": _S, "x": _N, "y": _N, "lon": _N, "lat": _N,
                "h": _N, **_VERSIONED},
    "names": _NAME,
    "name_extents": _NAME,
    "issues": {"rule": _S, "severity": _S, "layer": _S, "feature": _S, "message": _S, "message_en": _S,
               "file": _S, "province": _S, "submission_id": _I, "created_at": _TIME},
}
#: the query parameters of every items request; a property of the same name is not a filter
ITEMS_PARAMETERS = ("limit", "offset", "after", "bbox", "bbox-crs", "crs", "province", "zoom", "properties",
                    "history", "datetime")
#: the collections with legal time, which ``datetime`` selects on (their ``valid_from``/``valid_to``)
TEMPORAL = ("lines", "markers", "names", "name_extents")
#: the temporal reference system of ``extent.temporal`` (Part 1 §7.13.4)
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
_CHINA_EXTENT = [73.4, 3.8, 135.1, 53.6]
SCHEMA = "application/schema+json"
_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000


class QueryError(ValueError):
    """A query parameter that cannot be used (HTTP 400); ``zh``: the description in Chinese, when written."""

    def __init__(self, message: str, zh: str | None = None):
        super().__init__(message)
        self.zh = zh


def json_response(content: dict, status: int = 200, media_type: str = JSON) -> tuple[dict, int, str]:
    """``(headers, status, content)`` of a JSON document."""
    return {"Content-Type": media_type}, status, json.dumps(content, ensure_ascii=False)


def _error(status: int, code: str, description: str, zh: str | None = None) -> tuple[dict, int, str]:
    return json_response({"code": code, "description": description} | ({"description_zh": zh} if zh else {}),
                         status)


def available_collections() -> list[str]:
    """The collections this installation serves (the gazetteer's only with the gazetteer installed)."""
    layers = registered_layers()
    return [c for c in COLLECTIONS if c not in ("names", "name_extents") or c in layers]


def landing(base: str) -> tuple[dict, int, str]:
    """The landing page: links to the API definition, conformance and the collections."""
    return json_response({
        "title": "quhua 区划 — boundary lines, markers and place names",
        "description": "OGC API – Features over the national boundary database (CRS84 by default; "
                       "EPSG:4490 and its Gauss-Krüger zones EPSG:4491–4554 with crs=)",
        "links": [
            {"href": f"{base}", "rel": "self", "type": JSON, "title": "this document"},
            {"href": f"{base}/api", "rel": "service-desc", "type": OPENAPI, "title": "the API definition"},
            {"href": f"{base}/api.html", "rel": "service-doc", "type": "text/html",
             "title": "the API documentation"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": JSON, "title": "conformance"},
            {"href": f"{base}/collections", "rel": "data", "type": JSON, "title": "collections"},
            {"href": f"{base}/tileMatrixSets", "rel": "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes",
             "type": JSON, "title": "the tiling schemes of the vector tiles"},
        ]})


def conformance() -> tuple[dict, int, str]:
    """The conformance classes implemented."""
    return json_response({"conformsTo": CONFORMANCE})


def _temporal_extent(store: Store | None, cid: str) -> dict | None:
    """``extent.temporal`` of a collection with legal time: from its earliest ``valid_from`` to its latest
    (null: open, while versions are in force) — the interval ``datetime`` can select in."""
    if cid not in TEMPORAL or store is None or not store.exists():
        return None
    provider = registered_layers().get(cid)
    if provider is not None:  # the gazetteer's names: their own valid_from/valid_to (placenames.layers)
        first, last, open_ = provider.load().temporal_extent(store)
        return {"interval": [[first, None if open_ or last is None else last]], "trs": GREGORIAN}
    first, last, open_ = store.fetch(f'SELECT min("valid_from"), max("valid_to"), '
                                     f"sum(CASE WHEN valid_to IS NULL THEN 1 ELSE 0 END) FROM {cid}")[0]

    def text(value):
        if value is None:
            return None
        if hasattr(value, "astimezone"):  # PostgreSQL's timestamptz
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return str(value)[:19] + "Z"

    return {"interval": [[text(first), None if open_ or last is None else text(last)]], "trs": GREGORIAN}


def _collection_document(base: str, cid: str, store: Store | None = None) -> dict:
    title, description = COLLECTIONS[cid]
    extent = {"spatial": {"bbox": [_CHINA_EXTENT], "crs": CRS84}}
    temporal = _temporal_extent(store, cid)
    if temporal is not None:
        extent["temporal"] = temporal
    return {
        "id": cid, "title": title, "description": description, "itemType": "feature",
        "crs": SUPPORTED, "storageCrs": STORAGE_CRS,  # CRS84 by default: lon/lat, as EPSG:4490 is stored
        "extent": extent,
        "links": [{"href": f"{base}/collections/{cid}", "rel": "self", "type": JSON, "title": title},
                  {"href": f"{base}/collections/{cid}/items", "rel": "items", "type": GEOJSON, "title": title},
                  {"href": f"{base}/collections/{cid}/queryables", "rel": _QUERYABLES, "type": SCHEMA,
                   "title": f"the queryables of {cid}"}]
        + ([{"href": f"{base}/collections/{cid}/tiles", "rel": "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
             "type": JSON, "title": f"vector tiles of {cid}"}] if cid in TILED else []),
    }


def collections(base: str, store: Store | None = None) -> tuple[dict, int, str]:
    """The list of collections (with ``store``: the temporal extents of lines and markers)."""
    return json_response({"links": [{"href": f"{base}/collections", "rel": "self", "type": JSON}],
                      "collections": [_collection_document(base, c, store) for c in available_collections()]})


def _not_found(cid: str) -> tuple[dict, int, str]:
    return _error(404, "NotFound", f"no collection {cid!r}; the collections are "
                                   f"{', '.join(available_collections())}")


def collection(base: str, cid: str, store: Store | None = None) -> tuple[dict, int, str]:
    """One collection's description, or 404."""
    if cid not in available_collections():
        return _not_found(cid)
    return json_response(_collection_document(base, cid, store))


def queryables(base: str, cid: str) -> tuple[dict, int, str]:
    """The properties a collection's items can be filtered on (``?PROPERTY=value``), as a JSON Schema
    (OGC API – Features Part 3's queryables resource, which OWSLib and QGIS ask for), or 404."""
    if cid not in available_collections():
        return _not_found(cid)
    return json_response({
        "$schema": "https://json-schema.org/draft/2019-09/schema", "$id": f"{base}/collections/{cid}/queryables",
        "type": "object", "title": COLLECTIONS[cid][0],
        "properties": {name: dict(schema, title=name) for name, schema in PROPERTIES[cid].items()},
        "additionalProperties": False}, media_type=SCHEMA)


def _int(args: Mapping, name: str, default: int, low: int, high: int) -> int:
    text = args.get(name)
    if text in (None, ""):
        return default
    try:
        value = int(text)
    except ValueError as err:
        raise QueryError(f"{name}={text!r} is not a whole number") from err
    if not low <= value <= high:
        raise QueryError(f"{name}={value} is outside {low}…{high}")
    return value


def _crs(args: Mapping, name: str) -> str:
    uri = args.get(name) or CRS84
    if uri not in SUPPORTED:
        raise QueryError(f"{name}={uri!r}: give one of {CRS84}, {STORAGE_CRS} (CGCS2000) or "
                         f"{SUPPORTED[2][:-4]}4491 … 4554 (CGCS2000 Gauss-Krüger zones)")
    return uri


def _bbox(text: str | None, uri: str = CRS84) -> tuple[float, float, float, float] | None:
    """W,S,E,N lon/lat of ``bbox`` (given in ``uri``'s axis order: CRS84 lon/lat, EPSG:4490 lat/lon, the
    Gauss-Krüger zones northing/easting)."""
    if not text:
        return None
    try:
        box = tuple(float(v) for v in text.split(","))
        if len(box) != 4:
            raise ValueError(text)
    except ValueError as err:
        raise QueryError(f"bbox={text!r}: give four numbers, the lower and the upper corner "
                         f"(W,S,E,N in degrees, or in the axis order of bbox-crs)") from err
    w, s, e, n = bbox_to_lonlat(box, uri)
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise QueryError(f"bbox={text!r}: needs W ≤ E within ±180 and S ≤ N within ±90")
    return w, s, e, n


def _province(text: str | None) -> str | None:
    if not text:
        return None
    code = text.strip()[:2]
    if code not in PROVINCES or text.strip() not in (code, code + "0000"):
        raise QueryError(f"province={text!r}: give a province code such as 360000 (or its prefix 36)")
    return code + "0000"


def _filters(args: Mapping, cid: str | None) -> dict:
    """The ``PROPERTY=value`` filters of a request on collection ``cid``, the values of the property's type;
    raises :class:`QueryError` for a parameter that is neither one of :data:`ITEMS_PARAMETERS` nor a
    queryable."""
    schema = PROPERTIES.get(cid, {})
    unknown = sorted(set(args) - set(ITEMS_PARAMETERS) - set(schema))
    if unknown:
        raise QueryError(f"unknown parameter {', '.join(unknown)}; the parameters are "
                         f"{', '.join(ITEMS_PARAMETERS)} and the queryables of {cid}: {', '.join(schema)}")
    filters = {}
    for name in set(args) & set(schema) - set(ITEMS_PARAMETERS):
        kind = schema[name]["type"]
        try:
            filters[name] = {"integer": int, "number": float}.get(kind, str)(args[name])
        except ValueError as err:
            raise QueryError(f"{name}={args[name]!r} is not a {kind}") from err
    return filters


def _instant(text: str) -> str:
    """One end of ``datetime``: an RFC 3339 date-time or a date, as its UTC day (legal time's unit)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(value)
    except ValueError:
        raise QueryError(
            f"datetime={text!r} is not a date-time: give an RFC 3339 instant (2019-06-30T00:00:00Z) or a date "
            "(2019-06-30), or an interval of two, A/B, open with .. (../2019-06-30, 2019-06-30/..)",
            f"datetime={text!r} 不是日期时间：请给出 RFC 3339 时刻（2019-06-30T00:00:00Z）或日期（2019-06-30），"
            "或由两者组成的时段 A/B，开放的一端写 ..（../2019-06-30、2019-06-30/..）") from None
    return parsed.astimezone(UTC).date().isoformat()


def parse_datetime(text: str | None, cid: str | None = None):
    """``datetime`` (Part 1 §7.15.6) as :meth:`Store.query`'s ``at``: a day, or ``(start, end)`` with None
    for an open end (``..`` or empty); None when not given. Raises :class:`QueryError` (400)."""
    if text is None:
        return None
    if cid is not None and cid not in TEMPORAL:
        raise QueryError(f"datetime: {cid} has no legal time; it applies to {', '.join(TEMPORAL)}",
                         f"datetime：{cid} 没有法定时间；它只适用于 {'、'.join(TEMPORAL)}")
    if "/" not in text:
        if text.strip() in ("", ".."):
            raise QueryError("datetime: an instant cannot be open; give a date-time or an interval",
                             "datetime：时刻不能是开放的；请给出日期时间或时段")
        return _instant(text)
    parts = text.split("/")
    if len(parts) != 2:
        raise QueryError(f"datetime={text!r}: an interval has two ends, A/B", f"datetime={text!r}：时段应有两端 A/B")
    start, end = (None if p.strip() in ("", "..") else _instant(p) for p in parts)
    if start is None and end is None:
        raise QueryError("datetime=../..: at least one end of the interval must be given",
                         "datetime=../..：时段至少须给出一端")
    if start is not None and end is not None and end < start:
        raise QueryError(f"datetime={text!r}: the interval ends before it starts",
                         f"datetime={text!r}：时段的终止早于起始")
    return start, end


def parse_items_query(args: Mapping, cid: str | None = None) -> dict:
    """``limit``, ``offset``, ``bbox``, ``province``, ``zoom`` and the property filters of collection ``cid``
    checked; raises :class:`QueryError`."""
    return {"filters": _filters(args, cid) if cid else {}, "crs": _crs(args, "crs"),
            "limit": _int(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
            "offset": _int(args, "offset", 0, 0, 10**9),
            "after": _int(args, "after", -1, 0, 2**62) if args.get("after") not in (None, "") else None,
            "bbox": _bbox(args.get("bbox"), _crs(args, "bbox-crs")), "province": _province(args.get("province")),
            "zoom": _int(args, "zoom", -1, 0, 24), "history": args.get("history") in ("true", "1"),
            "properties": [p for p in args.get("properties", "").split(",") if p] or None,
            "at": parse_datetime(args.get("datetime"), cid)}


def _simplify(geometry: np.ndarray, zoom: int) -> np.ndarray:
    """Lines simplified to half a pixel at ``zoom`` and rounded to a tenth of that (map display only)."""
    if zoom < 0:
        return geometry
    tolerance = 360.0 / (256 * 2**zoom) / 2
    digits = int(np.clip(np.ceil(-np.log10(tolerance / 10)), 4, 7))
    simple = shapely.simplify(geometry, tolerance, preserve_topology=False)
    simple = np.where(shapely.is_empty(simple), geometry, simple)
    return shapely.transform(simple, lambda xy: np.round(xy, digits))


def _plain(value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


_LINE_TYPES = (shapely.GeometryType.LINESTRING, shapely.GeometryType.MULTILINESTRING)


def _plain_column(column: pd.Series) -> list:
    """A column's values as JSON-ready Python values (NaN and NaT: None)."""
    if column.dtype.kind in "iub":
        return column.tolist()
    if column.dtype.kind == "f":
        return [None if v != v else v for v in column.tolist()]
    return [_plain(v) for v in column.tolist()]


def _geometry_json(geometry: np.ndarray, zoom: int, crs: str) -> np.ndarray:
    """GeoJSON geometry texts in ``crs``: lines simplified for ``zoom`` (:func:`_simplify`), points on a map
    (``zoom`` given) rounded to 7 decimals (1 cm)."""
    geometry = np.asarray(geometry, dtype=object)
    lines = np.isin(shapely.get_type_id(geometry), _LINE_TYPES)
    if lines.any():
        geometry = geometry.copy()
        geometry[lines] = _simplify(geometry[lines], zoom)
    if zoom >= 0 and not lines.all():
        geometry[~lines] = shapely.transform(geometry[~lines], lambda xy: np.round(xy, 7))
    return shapely.to_geojson(project(geometry, crs))


def _geometry_texts(frame: pd.DataFrame, zoom: int, crs: str) -> list:
    """The page's geometry texts, each remembered per stored row (:func:`webmap.cache.per_row`): a
    province's boundary at full resolution is a megabyte of GeoJSON, and the same rows are asked for again
    and again (map panning, QGIS, the province pages) while they stay the same."""
    if "geometry" not in frame:
        return [None] * len(frame)
    return per_row(f"geojson {zoom} {crs}", frame, lambda geometry: _geometry_json(geometry, zoom, crs),
                   texts=True)


def features_json(frame: pd.DataFrame, zoom: int = -1, extra: Mapping[str, list] | None = None,
                  properties: list[str] | None = None, crs: str = CRS84) -> list[str]:
    """GeoJSON Feature texts of a store frame (``fid`` becomes the id) in ``crs``; ``extra`` adds computed
    properties; ``properties`` keeps only those."""
    texts = _geometry_texts(frame, zoom, crs)
    columns = [c for c in frame.columns if c not in ("fid", "geometry", "report")
               and (properties is None or c in properties)]
    # column by column (a page's frame to records through pandas took half the response's time)
    values = [_plain_column(frame[c]) for c in columns]
    out = []
    for i, (fid, text) in enumerate(zip(frame["fid"].tolist(), texts, strict=True)):
        properties = {c: column[i] for c, column in zip(columns, values, strict=True)}
        for key, computed in (extra or {}).items():
            properties[key] = computed[i]
        out.append(f'{{"type":"Feature","id":{int(fid)},"geometry":{text or "null"},'
                   f'"properties":{json.dumps(properties, ensure_ascii=False)}}}')
    return out


def _links(base: str, cid: str, args: Mapping, query: dict, last_id: int | None, more: bool) -> list[dict]:
    """``self``, ``collection``, ``next`` (while features follow: with ``after`` = this page's last id, so
    that the database starts the next page from its index instead of skipping ``offset`` rows) and
    ``prev``."""
    url = f"{base}/collections/{cid}/items"
    keep = {k: v for k, v in args.items() if k not in ("offset", "limit", "after")}
    links = [{"href": f"{url}?{urlencode(dict(keep, offset=query['offset'], limit=query['limit']))}",
              "rel": "self", "type": GEOJSON, "title": "this page"},
             {"href": f"{base}/collections/{cid}", "rel": "collection", "type": JSON}]
    if more:
        following = dict(keep, offset=query["offset"] + query["limit"], limit=query["limit"], after=last_id)
        links.append({"href": f"{url}?{urlencode(following)}", "rel": "next", "type": GEOJSON,
                      "title": "next page"})
    if query["offset"] > 0:
        previous = max(0, query["offset"] - query["limit"])
        links.append({"href": f"{url}?{urlencode(dict(keep, offset=previous, limit=query['limit']))}",
                      "rel": "prev", "type": GEOJSON, "title": "previous page"})
    return links


def query_collection(store: Store, cid: str, query: dict, *, count: bool = True):
    """One page of a collection as the store's query interface answers it (filters, order and paging done
    by the database): a :class:`~boundaries.store.Page` whose frame has ``fid``."""
    page = query_any_layer(store, cid, offset=query.get("offset", 0), limit=query.get("limit"),
                           after=query.get("after"), bbox=query.get("bbox"), province=query.get("province"),
                           properties=query.get("filters") or None, history=bool(query.get("history")),
                           count=count, **({"at": query["at"]} if query.get("at") is not None else {}))
    return _with_fid(page.features), page


def _with_fid(frame: pd.DataFrame) -> pd.DataFrame:
    if "fid" not in frame.columns:  # the gazetteer's names carry their own ``id``
        frame = frame.assign(fid=frame["id"] if "id" in frame.columns else range(len(frame)))
    return frame


def items(store: Store, base: str, cid: str, args: Mapping, *,
          extra: callable | None = None) -> tuple[dict, int, str]:
    """A page of a collection's features as a GeoJSON FeatureCollection with OGC paging links, read through
    the store's query interface: only the page's rows (and a count) are read.

    ``extra(page, store) -> {property: values}`` adds computed properties to the page (the map's styling).
    """
    if cid not in available_collections():
        return _not_found(cid)
    try:
        query = parse_items_query(args, cid)
    except QueryError as err:
        return _error(400, "InvalidParameterValue", str(err), err.zh)
    page, result = query_collection(store, cid, query)
    unknown = set(query["properties"] or []) - set(page.columns)
    if unknown:
        return _error(400, "InvalidParameterValue", f"properties: {', '.join(sorted(unknown))} not in {cid}")
    features = features_json(page, query["zoom"], extra(page, store) if extra and len(page) else None,
                             query["properties"], query["crs"])
    last_id = int(page["fid"].iloc[-1]) if len(page) else None
    head = {"type": "FeatureCollection", "numberMatched": result.number_matched, "numberReturned": len(page),
            "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": _links(base, cid, args, query, last_id, result.more)}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',"features":[' + ",".join(features) + "]}"
    return _features_headers(query["crs"]), 200, text


def _features_headers(crs: str) -> dict:
    return {"Content-Type": GEOJSON, "Content-Crs": f"<{crs}>"}


def item(store: Store, base: str, cid: str, fid: str, args: Mapping | None = None, *,
         province: str | None = None) -> tuple[dict, int, str]:
    """One feature by its id (``crs`` as for items), or 404 (also when ``province`` is given and the feature
    does not concern it: a reader limited to one province learns nothing of the others' features)."""
    if cid not in available_collections():
        return _not_found(cid)
    unknown = set(args or {}) - {"crs"}
    if unknown:
        return _error(400, "InvalidParameterValue", f"unknown parameter {', '.join(sorted(unknown))}; "
                                                    f"a feature takes crs only")
    try:
        crs = _crs(args or {}, "crs")
    except QueryError as err:
        return _error(400, "InvalidParameterValue", str(err))
    match = _with_fid(get_any_feature(store, cid, fid, province=province))
    if match.empty:
        return _error(404, "NotFound", f"no feature {fid!r} in {cid}")
    feature = json.loads(features_json(match, crs=crs)[0])
    feature["links"] = [{"href": f"{base}/collections/{cid}/items/{fid}", "rel": "self", "type": GEOJSON},
                        {"href": f"{base}/collections/{cid}", "rel": "collection", "type": JSON}]
    return _features_headers(crs), 200, json.dumps(feature, ensure_ascii=False)


def feature_collection_json(frame: pd.DataFrame) -> str:
    """A whole frame as one GeoJSON FeatureCollection text (downloads)."""
    return '{"type":"FeatureCollection","features":[' + ",".join(features_json(frame)) + "]}"
