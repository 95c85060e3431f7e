"""OGC API – Features Part 1 Core over the store, without a web framework (as pygeoapi's core).

Every public function returns ``(headers, status, content)`` with ``content`` a JSON text; one adapter in
:mod:`webmap.views.api` turns that into a Flask response. Collections: ``lines`` (界线), ``markers``
(界桩), ``issues`` (质检问题) and, when the gazetteer provides them, ``names`` (地名) and ``name_extents``
(地名范围: the polygons and lines of the names that have one). Items take ``bbox``,
``limit``, ``offset``, ``province`` and, for maps (not part of Part 1; GDAL never sends them), ``zoom``,
which simplifies lines to half a screen pixel at that zoom and rounds coordinates to match,
``properties`` (a comma-separated subset, as pygeoapi) and ``history=true`` (superseded versions too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import entry_points
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import shapely

from boundaries.export import read_any_layer
from boundaries.readers import PROVINCES
from boundaries.store import Store

__all__ = ["COLLECTIONS", "CONFORMANCE", "collection", "collections", "conformance", "feature_collection_json",
           "features_json", "item", "items",
           "landing", "parse_items_query"]

JSON, GEOJSON = "application/json", "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
#: collection id → (title, description)
COLLECTIONS = {
    "lines": ("行政区域界线 Boundary lines", "Current boundary lines (界线), EPSG:4490, one feature per line"),
    "markers": ("界桩 Boundary markers", "Current boundary markers (界桩) with declared coordinates"),
    "names": ("地名 Place names", "The gazetteer's standard names (地名)"),
    "name_extents": ("地名范围 Place-name extents", "The polygons and lines of the names that have one (范围)"),
    "issues": ("质检问题 QA issues", "Findings of the checks on accepted submissions (SPEC §5)"),
}
_CHINA_EXTENT = [73.4, 3.8, 135.1, 53.6]
_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
DEFAULT_LIMIT, MAX_LIMIT = 100, 10_000


class QueryError(ValueError):
    """A query parameter that cannot be used (HTTP 400)."""


def _response(content: dict, status: int = 200, media_type: str = JSON) -> tuple[dict, int, str]:
    return {"Content-Type": media_type}, status, json.dumps(content, ensure_ascii=False)


def _error(status: int, code: str, description: str) -> tuple[dict, int, str]:
    return _response({"code": code, "description": description}, status)


def available_collections() -> list[str]:
    """The collections this installation serves (the gazetteer's only with the gazetteer installed)."""
    layers = {e.name for e in entry_points(group="quhua.layers")}
    return [c for c in COLLECTIONS if c not in ("names", "name_extents") or c in layers]


def landing(base: str) -> tuple[dict, int, str]:
    """The landing page: links to the API definition, conformance and the collections."""
    return _response({
        "title": "quhua 区划 — boundary lines, markers and place names",
        "description": "OGC API – Features over the national boundary database (EPSG:4490 served as CRS84)",
        "links": [
            {"href": f"{base}", "rel": "self", "type": JSON, "title": "this document"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": JSON, "title": "conformance"},
            {"href": f"{base}/collections", "rel": "data", "type": JSON, "title": "collections"},
        ]})


def conformance() -> tuple[dict, int, str]:
    """The conformance classes implemented."""
    return _response({"conformsTo": CONFORMANCE})


def _collection_document(base: str, cid: str) -> dict:
    title, description = COLLECTIONS[cid]
    return {
        "id": cid, "title": title, "description": description, "itemType": "feature",
        "crs": [_CRS84],  # stored in EPSG:4490 (CGCS2000), served lon/lat as CRS84: equal at survey precision
        "extent": {"spatial": {"bbox": [_CHINA_EXTENT], "crs": _CRS84}},
        "links": [{"href": f"{base}/collections/{cid}", "rel": "self", "type": JSON, "title": title},
                  {"href": f"{base}/collections/{cid}/items", "rel": "items", "type": GEOJSON, "title": title}],
    }


def collections(base: str) -> tuple[dict, int, str]:
    """The list of collections."""
    return _response({"links": [{"href": f"{base}/collections", "rel": "self", "type": JSON}],
                      "collections": [_collection_document(base, c) for c in available_collections()]})


def collection(base: str, cid: str) -> tuple[dict, int, str]:
    """One collection's description, or 404."""
    if cid not in available_collections():
        return _error(404, "NotFound", f"no collection {cid!r}; the collections are "
                                       f"{', '.join(available_collections())}")
    return _response(_collection_document(base, cid))


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


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        w, s, e, n = (float(v) for v in text.split(","))
    except ValueError as err:
        raise QueryError(f"bbox={text!r}: give four numbers W,S,E,N in degrees (lon/lat)") from err
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


def parse_items_query(args: Mapping) -> dict:
    """``limit``, ``offset``, ``bbox``, ``province`` and ``zoom`` checked; raises :class:`QueryError`."""
    if args.get("crs") not in (None, "", _CRS84):
        raise QueryError(f"crs={args['crs']!r}: this API serves {_CRS84} only (Part 1 Core)")
    return {"limit": _int(args, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
            "offset": _int(args, "offset", 0, 0, 10**9),
            "bbox": _bbox(args.get("bbox")), "province": _province(args.get("province")),
            "zoom": _int(args, "zoom", -1, 0, 24), "history": args.get("history") in ("true", "1"),
            "properties": [p for p in args.get("properties", "").split(",") if p] or None}


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


def features_json(frame: pd.DataFrame, zoom: int = -1, extra: Mapping[str, list] | None = None,
                  properties: list[str] | None = None) -> list[str]:
    """GeoJSON Feature texts of a store frame (``fid`` becomes the id); ``extra`` adds computed properties;
    ``properties`` keeps only those."""
    geometry = frame.geometry.values if "geometry" in frame else np.full(len(frame), None)
    if len(frame) and "geometry" in frame and frame.geometry.geom_type.str.contains("Line").any():
        geometry = _simplify(np.asarray(geometry), zoom)
    elif zoom >= 0 and "geometry" in frame:  # points on a map: 7 decimals (1 cm) are plenty
        geometry = shapely.transform(np.asarray(geometry), lambda xy: np.round(xy, 7))
    texts = shapely.to_geojson(np.asarray(geometry, dtype=object))
    columns = [c for c in frame.columns if c not in ("fid", "geometry", "report")
               and (properties is None or c in properties)]
    records = frame[columns].to_dict("records")
    out = []
    for i, (record, fid, text) in enumerate(zip(records, frame["fid"], texts, strict=True)):
        properties = {k: _plain(v) for k, v in record.items()}
        for key, values in (extra or {}).items():
            properties[key] = values[i]
        out.append(f'{{"type":"Feature","id":{int(fid)},"geometry":{text or "null"},'
                   f'"properties":{json.dumps(properties, ensure_ascii=False)}}}')
    return out


def _links(base: str, cid: str, args: Mapping, query: dict, matched: int) -> list[dict]:
    url = f"{base}/collections/{cid}/items"
    keep = {k: v for k, v in args.items() if k not in ("offset", "limit")}
    links = [{"href": f"{url}?{urlencode(dict(keep, offset=query['offset'], limit=query['limit']))}",
              "rel": "self", "type": GEOJSON, "title": "this page"},
             {"href": f"{base}/collections/{cid}", "rel": "collection", "type": JSON}]
    following = query["offset"] + query["limit"]
    if following < matched:
        links.append({"href": f"{url}?{urlencode(dict(keep, offset=following, limit=query['limit']))}",
                      "rel": "next", "type": GEOJSON, "title": "next page"})
    if query["offset"] > 0:
        previous = max(0, query["offset"] - query["limit"])
        links.append({"href": f"{url}?{urlencode(dict(keep, offset=previous, limit=query['limit']))}",
                      "rel": "prev", "type": GEOJSON, "title": "previous page"})
    return links


def read_collection(store: Store, cid: str, query: dict) -> pd.DataFrame:
    """The matching rows of a collection (every page), in a stable order."""
    filters = {"history": True} if query.get("history") else {}
    frame = read_any_layer(store, cid, province=query["province"], bbox=query["bbox"], **filters)
    if "fid" not in frame.columns:  # the gazetteer's names carry their own ``id``
        frame = frame.assign(fid=frame["id"] if "id" in frame.columns else range(len(frame)))
    return frame


def items(store: Store, base: str, cid: str, args: Mapping, *,
          extra: callable | None = None) -> tuple[dict, int, str]:
    """A page of a collection's features as a GeoJSON FeatureCollection with OGC paging links.

    ``extra(page) -> {property: values}`` adds computed properties to the page (the map's styling).
    """
    if cid not in available_collections():
        return _error(404, "NotFound", f"no collection {cid!r}")
    try:
        query = parse_items_query(args)
    except QueryError as err:
        return _error(400, "InvalidParameterValue", str(err))
    frame = read_collection(store, cid, query)
    unknown = set(query["properties"] or []) - set(frame.columns)
    if unknown:
        return _error(400, "InvalidParameterValue", f"properties: {', '.join(sorted(unknown))} not in {cid}")
    page = frame.iloc[query["offset"]:query["offset"] + query["limit"]]
    features = features_json(page, query["zoom"], extra(page, frame) if extra and len(page) else None,
                             query["properties"])
    head = {"type": "FeatureCollection", "numberMatched": len(frame), "numberReturned": len(page),
            "timeStamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": _links(base, cid, args, query, len(frame))}
    text = json.dumps(head, ensure_ascii=False)[:-1] + ',"features":[' + ",".join(features) + "]}"
    return {"Content-Type": GEOJSON}, 200, text


def item(store: Store, base: str, cid: str, fid: str, *, province: str | None = None) -> tuple[dict, int, str]:
    """One feature by its id, or 404 (also when ``province`` is given and the feature does not concern it:
    a reader limited to one province learns nothing of the others' features)."""
    if cid not in available_collections():
        return _error(404, "NotFound", f"no collection {cid!r}")
    frame = read_collection(store, cid, {"province": province, "bbox": None})
    match = frame[frame["fid"].astype(str) == str(fid)]
    if match.empty:
        return _error(404, "NotFound", f"no feature {fid!r} in {cid}")
    feature = json.loads(features_json(match)[0])
    feature["links"] = [{"href": f"{base}/collections/{cid}/items/{fid}", "rel": "self", "type": GEOJSON},
                        {"href": f"{base}/collections/{cid}", "rel": "collection", "type": JSON}]
    return {"Content-Type": GEOJSON}, 200, json.dumps(feature, ensure_ascii=False)


def feature_collection_json(frame: pd.DataFrame) -> str:
    """A whole frame as one GeoJSON FeatureCollection text (downloads)."""
    return '{"type":"FeatureCollection","features":[' + ",".join(features_json(frame)) + "]}"
