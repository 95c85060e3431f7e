"""Printable maps rendered on the server: the national overview and a province's map as PNG or PDF.

Why matplotlib (through geopandas' ``plot``) rather than a headless browser printing the Leaflet page: the
viewer's server needs no browser (Chromium is only a test dependency), a PDF from matplotlib is vector and
embeds the subset of the CJK font it uses (Noto Sans CJK SC, Debian's ``fonts-noto-cjk``), and one drawing
serves both formats. It needs the ``print`` extra (``pip install 'quhua[print]'``, which scripts/install.sh
installs); without it :func:`available` is False and the routes say which extra to install.

Every map carries what a printed map of China needs: a title, the date, the legend (counted as the pages
count: :func:`webmap.status.load_counts`, :func:`webmap.status.province_figures`), a scale bar, a north
arrow, the data source, and the South China Sea islands (南海诸岛) with the dashed line — as an inset on the
national map, inside the locator map of China on a province's map. Both are drawn in an equal-area conic
projection of China (Albers, standard parallels 25°N and 47°N, central meridian 105°E; a province's map in
a Lambert azimuthal projection centred on it), so the scale bar measures true kilometres near the centre
and north is up along the central meridian, where the arrow stands.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from webmap.maps import NOT_COUNTED_COLOUR, china_map_data
from webmap.status import NOT_COUNTED, STATUSES, LoadCounts, ProvinceFigures

__all__ = ["FORMATS", "PrintLabels", "available", "render_overview", "render_province"]

FORMATS = {"png": "image/png", "pdf": "application/pdf"}
CHINA_ALBERS = "+proj=aea +lat_0=0 +lon_0=105 +lat_1=25 +lat_2=47 +ellps=GRS80 +units=m +no_defs"
_FONT = "Noto Sans CJK SC"
_MAINLAND_BOX = (73.4, 17.6, 135.1, 53.6)  # the national map's frame; the islands further south: the inset
_DPI = 150
_A4_LANDSCAPE = (11.69, 8.27)
_AGREEMENT = {"agreed": "#1a9850", "differs": "#d73027", "single": "#4575b4"}


@dataclass
class PrintLabels:
    """The texts of a printed map, in the reader's language."""

    title: str
    subtitle: str
    source: str
    north: str
    nanhai: str
    legend: str
    entries: Mapping[str, str]  # key → label (statuses, line agreement, markers, issues …)
    note: str = ""


def available() -> bool:
    """Whether matplotlib (the ``print`` extra) is installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure():
    import matplotlib

    matplotlib.use("agg", force=False)
    from matplotlib.figure import Figure

    matplotlib.rcParams["pdf.fonttype"] = 42  # TrueType subset: searchable, copyable text in the PDF
    matplotlib.rcParams["font.family"] = [_FONT, "sans-serif"]
    return Figure(figsize=_A4_LANDSCAPE, dpi=_DPI)


def _save(fig, fmt: str) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format=fmt, dpi=_DPI, metadata={"Title": fig.texts[0].get_text()} if fmt == "pdf" else None)
    return out.getvalue()


def _frame(geojson: dict, crs: str) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=[shapely.geometry.shape(geojson)], crs=4490).to_crs(crs)


def _box(bounds, crs: str) -> tuple[float, float, float, float]:
    """The projected bounds of a lon/lat box (its edges densified, as a conic bends them)."""
    w, s, e, n = bounds
    box = shapely.segmentize(shapely.box(w, s, e, n), 0.5)
    return tuple(gpd.GeoSeries([box], crs=4490).to_crs(crs).total_bounds)


def _scale_bar(ax, *, lang: str) -> None:
    """A bar of 2–4 alternating segments of a round length in km, lower left (the axes are in metres)."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    target = (x1 - x0) / 5
    step = next(v for v in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000) if v * 1000 * 2 >= target / 2)
    segments = 2
    left, bottom, height = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.035, (y1 - y0) * 0.008
    from matplotlib.patches import Rectangle

    for i in range(segments):
        ax.add_patch(Rectangle((left + i * step * 1000, bottom), step * 1000, height, facecolor="#222" if i % 2 == 0
                               else "#fff", edgecolor="#222", linewidth=0.8, zorder=20))
        ax.text(left + i * step * 1000, bottom + height * 1.6, f"{i * step:g}", ha="center", va="bottom",
                fontsize=7, zorder=20)
    unit = "km" if lang == "en" else "千米"
    ax.text(left + segments * step * 1000, bottom + height * 1.6, f"{segments * step:g} {unit}", ha="left",
            va="bottom", fontsize=7, zorder=20)


def _north_arrow(ax, label: str) -> None:
    """A north arrow in the upper left of ``ax`` (north is up along the projection's central meridian)."""
    ax.annotate(label, xy=(0.045, 0.95), xytext=(0.045, 0.84), xycoords="axes fraction", ha="center",
                va="center", fontsize=11, fontweight="bold", zorder=21,
                arrowprops={"facecolor": "#222", "edgecolor": "#222", "width": 3, "headwidth": 11, "headlength": 12})


def _legend(ax, handles, title: str, note: str, loc: str = "lower left", anchor=(0.0, 0.08)) -> None:
    legend = ax.legend(handles=handles, title=title, loc=loc, bbox_to_anchor=anchor, fontsize=8, title_fontsize=9,
                       frameon=True, framealpha=0.92, edgecolor="#999", alignment="left")
    legend.set_zorder(22)
    if note:
        import textwrap

        legend.get_title().set_text(title + "\n" + "\n".join(textwrap.wrap(note, 18 if _cjk(note) else 40)))
        legend.get_title().set_fontsize(8)


def _cjk(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def _header(fig, labels: PrintLabels) -> None:
    fig.text(0.5, 0.965, labels.title, ha="center", va="top", fontsize=17, fontweight="bold")
    fig.text(0.5, 0.925, labels.subtitle, ha="center", va="top", fontsize=10, color="#333")
    fig.text(0.02, 0.015, labels.source, ha="left", va="bottom", fontsize=7, color="#444")


def _china_layers(ax, crs: str, *, divisions: gpd.GeoDataFrame | None, colours=None, linewidth=0.4) -> None:
    """China: the province polygons (coloured by ``colours[code]``) when given, else the shipped outline;
    the dashed line of the South China Sea, always."""
    data = china_map_data()
    if divisions is not None and len(divisions):
        # ~500 m is finer than a line's width at these scales and keeps the PDF small; topology preserved,
        # so Macao and the islands stay
        frame = divisions.set_geometry(shapely.simplify(divisions.geometry.values, 0.005, preserve_topology=True),
                                       crs=divisions.crs).to_crs(crs)
        codes = frame["code"].astype(str).str[:2]
        order = np.argsort([c in ("81", "82") for c in codes], kind="stable")  # Hong Kong, Macao on top
        frame = frame.iloc[order]
        codes = codes.iloc[order]
        fills = [(colours or {}).get(c, "#eeeeee") for c in codes]
        small = codes.isin(["81", "82"]).to_numpy()
        frame.plot(ax=ax, color=fills, edgecolor="#555", linewidth=linewidth, zorder=2)
        if small.any():  # drawn with a strong outline so the two SARs are seen at national scale
            frame[small].plot(ax=ax, facecolor="none", edgecolor="#7a1712", linewidth=1.0, zorder=3)
    else:
        _frame(data["china"], crs).plot(ax=ax, color="#eeeeee", edgecolor="#555", linewidth=linewidth, zorder=2)
    _frame(data["dashes"], crs).plot(ax=ax, color="#333", linewidth=1.1, zorder=4)


def _nanhai_inset(fig, rect, crs: str, divisions, colours, title: str) -> None:
    """The South China Sea islands and the dashed line in a framed inset at ``rect`` (figure fraction)."""
    data = china_map_data()
    inset = fig.add_axes(rect)
    _china_layers(inset, crs, divisions=divisions, colours=colours, linewidth=0.3)
    land = _frame(data["nanhai"], crs)  # the small islands, which the province polygons simplify away
    land.plot(ax=inset, facecolor="none", edgecolor="#555", linewidth=0.3, zorder=3)
    x0, y0, x1, y1 = _box(data["inset"], crs)
    inset.set_xlim(x0, x1)
    inset.set_ylim(y0, y1)
    _plain_axes(inset)
    inset.set_facecolor("#eef3f6")
    for spine in inset.spines.values():
        spine.set_edgecolor("#222")
        spine.set_linewidth(0.9)
    inset.text(0.5, 0.02, title, transform=inset.transAxes, ha="center", va="bottom", fontsize=8,
               bbox={"facecolor": "white", "edgecolor": "#999", "pad": 1.5}, zorder=10)


def _plain_axes(ax) -> None:
    """No ticks and no axis labels (geopandas names a projected CRS's axes 'Easting [metre]')."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("")
    ax.set_ylabel("")


def _province_labels(ax, crs: str, names: Mapping[str, str]) -> None:
    """Each province's name at its centre (:data:`webmap.maps.PROVINCE_CENTRES`); Hong Kong and Macao beside
    their small areas, with a leader, so that neither hides the other or Guangdong."""
    from webmap.maps import PROVINCE_CENTRES

    codes = [c for c in PROVINCE_CENTRES if c in names]
    points = gpd.GeoSeries(gpd.points_from_xy([PROVINCE_CENTRES[c][0] for c in codes],
                                              [PROVINCE_CENTRES[c][1] for c in codes]), crs=4490).to_crs(crs)
    offsets = {"81": (9, -14), "82": (-26, -14), "11": (0, 6), "12": (8, -2)}
    for code, point in zip(codes, points, strict=True):
        dx, dy = offsets.get(code, (0, 0))
        ax.annotate(names[code], xy=(point.x, point.y), xytext=(dx, dy), textcoords="offset points", ha="center",
                    va="center", fontsize=6.5 if code not in ("81", "82") else 6, zorder=15,
                    color="#7a1712" if code in ("81", "82") else "#222",
                    arrowprops={"arrowstyle": "-", "color": "#7a1712", "linewidth": 0.5} if code in offsets
                    and code in ("81", "82") else None)


def _patch(colour: str, label: str):
    from matplotlib.patches import Patch

    return Patch(facecolor=colour, edgecolor="#555", label=label)


def render_overview(summaries: Mapping, counts: LoadCounts, divisions: gpd.GeoDataFrame | None,
                    lines: gpd.GeoDataFrame, labels: PrintLabels, fmt: str, *, lang: str = "zh",
                    names: Mapping[str, str] | None = None) -> bytes:
    """The national overview (A4 landscape): provinces by load status, Taiwan, Hong Kong and Macao (not
    counted), the stored lines, the 南海诸岛 inset, legend with :class:`LoadCounts`, scale, north, source."""
    fig = _figure()
    ax = fig.add_axes((0.02, 0.05, 0.96, 0.83))
    colours = {p: (NOT_COUNTED_COLOUR if p in NOT_COUNTED else STATUSES[summaries[p].status if p in summaries
                                                                         else "not_loaded"])
               for p in list(summaries) + list(NOT_COUNTED)}
    _china_layers(ax, CHINA_ALBERS, divisions=divisions, colours=colours)
    if len(lines):
        lines.to_crs(CHINA_ALBERS).plot(ax=ax, color="#333", linewidth=0.5, zorder=5)
    x0, y0, x1, y1 = _box(_MAINLAND_BOX, CHINA_ALBERS)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if names:
        _province_labels(ax, CHINA_ALBERS, names)
    handles = [_patch(STATUSES[s], f"{labels.entries[s]} ({counts.by_status[s]})") for s in STATUSES]
    handles.append(_patch(NOT_COUNTED_COLOUR, labels.entries["not_counted"]))
    _legend(ax, handles, labels.legend, labels.note)
    _scale_bar(ax, lang=lang)
    _north_arrow(ax, labels.north)
    width = 0.15
    _nanhai_inset(fig, (0.98 - width - 0.01, 0.06, width, width * 1.25 * _A4_LANDSCAPE[0] / _A4_LANDSCAPE[1]),
                  CHINA_ALBERS, divisions, colours, labels.nanhai)
    _header(fig, labels)
    return _save(fig, fmt)


def render_province(code: str, figures: ProvinceFigures, lines: gpd.GeoDataFrame, agreement: list[str],
                    markers: gpd.GeoDataFrame, issues: gpd.GeoDataFrame, outline: gpd.GeoDataFrame | None,
                    divisions: gpd.GeoDataFrame | None, labels: PrintLabels, fmt: str, *,
                    lang: str = "zh") -> bytes:
    """A province's map (A4 landscape): its outline, the lines with a side in it coloured by agreement with
    the neighbour, the markers and issues — the rows of :func:`webmap.status.province_figures`, counted in
    the legend — and a locator map of China (with the 南海诸岛 and the dashed line) marking the province."""
    fig = _figure()
    ax = fig.add_axes((0.02, 0.05, 0.74, 0.83))  # the right column holds the legend and the locator
    extent = [lines, markers, outline]
    bounds = np.array([f.total_bounds for f in extent if f is not None and len(f)])
    if len(bounds):
        w, s = bounds[:, 0].min(), bounds[:, 1].min()
        e, n = bounds[:, 2].max(), bounds[:, 3].max()
    else:
        w, s, e, n = 73.4, 17.6, 135.1, 53.6
    crs = f"+proj=laea +lat_0={(s + n) / 2:.3f} +lon_0={(w + e) / 2:.3f} +ellps=GRS80 +units=m +no_defs"
    if outline is not None and len(outline):
        outline = outline.set_geometry(shapely.simplify(outline.geometry.values, 0.001, preserve_topology=True),
                                       crs=outline.crs)
        outline.to_crs(crs).plot(ax=ax, facecolor="#f7f4ec", edgecolor="#777", linewidth=0.8, linestyle="--",
                                 zorder=1)
    handles = []
    if len(lines):
        projected = lines.to_crs(crs)
        colours = [_AGREEMENT.get(a, "#4575b4") for a in agreement]
        projected.plot(ax=ax, color=colours, linewidth=1.6, zorder=3)
        for key in _AGREEMENT:
            if key in agreement:
                from matplotlib.lines import Line2D

                handles.append(Line2D([0], [0], color=_AGREEMENT[key], linewidth=2,
                                      label=f"{labels.entries[key]} ({agreement.count(key)})"))
    if len(markers):
        markers.to_crs(crs).plot(ax=ax, color="#b8860b", linewidth=0, markersize=1.5, zorder=4)
        from matplotlib.lines import Line2D

        handles.append(Line2D([0], [0], marker="o", linestyle="none", markerfacecolor="#b8860b",
                              markeredgecolor="#b8860b", markersize=4,
                              label=f"{labels.entries['markers']} ({figures.markers:,})"))
    if len(issues):
        issues.to_crs(crs).plot(ax=ax, facecolor="none", edgecolor="#b2182b", linewidth=1.2, markersize=40, zorder=5)
        from matplotlib.lines import Line2D

        handles.append(Line2D([0], [0], marker="o", linestyle="none", markerfacecolor="none",
                              markeredgecolor="#b2182b", label=f"{labels.entries['issues']} "
                                                               f"({figures.errors + figures.warnings:,})"))
    x0, y0, x1, y1 = _box((w, s, e, n), crs)
    pad = 0.06 * max(x1 - x0, y1 - y0)
    ax.set_xlim(x0 - pad, x1 + pad)
    ax.set_ylim(y0 - pad, y1 + pad)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if handles:
        _legend(ax, handles, labels.legend, labels.note, loc="upper left", anchor=(1.02, 1.0))
    _scale_bar(ax, lang=lang)
    _north_arrow(ax, labels.north)
    locator = fig.add_axes((0.78, 0.06, 0.2, 0.3))
    prefix = code[:2]
    _china_layers(locator, CHINA_ALBERS, divisions=divisions,
                  colours={p: "#7a1712" if p == prefix else "#e4e4e4" for p in _all_prefixes(divisions)},
                  linewidth=0.2)
    lx0, ly0, lx1, ly1 = _box((73.4, 3.5, 135.1, 53.6), CHINA_ALBERS)  # the whole country, islands included
    locator.set_xlim(lx0, lx1)
    locator.set_ylim(ly0, ly1)
    locator.set_aspect("equal")
    _plain_axes(locator)
    for spine in locator.spines.values():
        spine.set_edgecolor("#222")
    _header(fig, labels)
    return _save(fig, fmt)


def _all_prefixes(divisions) -> list[str]:
    if divisions is None or not len(divisions):
        return []
    return sorted(set(divisions["code"].astype(str).str[:2]))
