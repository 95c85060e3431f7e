"""A synthetic grid of boundary lines (界线) and markers (界桩) that quhua reads as a submission.

    from synth_grid import make_grid, with_fields
    lines, markers = make_grid(20)                      # built in code (tests): EPSG:4544 metres
    lines, markers = with_fields(lines_gdf, markers_gdf, 300)   # the peers' make_synth.py output

The peers' generator (``/work/shared/peers/make_synth.py OUT N``) writes an N × N grid of 1 km cells
(EPSG:32648, lines with only a ``defect`` column) with planted defects: 0.5 m undershoots, exact
duplicates, partial collinear overlaps, bow-tie self-intersections, edges split in two (pseudo-nodes),
short spurs crossing an edge, one degenerate and one isolated multipart line, markers 424 m off and
duplicated markers. :func:`with_fields` gives such a grid the fields quhua needs, so that quhua and the
peers check the same geometry:

- every cell (i, j) is a township-level division ``36`` + seven digits (nine-digit statistical code, in
  province 360000); the four sides of the grid border four outside divisions (430000000 west, 440000000
  east, 450000000 south, 460000000 north);
- a line's ``left_code``/``right_code`` are the two cells beside the grid edge nearest to its middle (a
  spur, a duplicate or a partial copy gets the codes of the edge it lies on), ``line_id`` its feature
  number;
- markers carry ids ``3643`` + six-digit sequence + ``Q`` (:data:`MARKER_ID_PATTERN`, a widened pattern
  given with ``--config``), no ``line_id`` (measured against the nearest line).

:func:`make_grid` builds the same kind of grid in code with the same defects (a port of make_synth.py's
construction, smaller and without files, for tests). Both move the grid, unchanged, into 江西: its centre
at 117°E 27.6°N in EPSG:4548 (CGCS2000 3° zone of 117°E, metres), a CRS quhua accepts (the peers'
EPSG:32648 is not one, SPEC §4, and a grid off the submitting province is refused).
"""

from __future__ import annotations

import math
import random

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["CRS", "MARKER_ID_PATTERN", "config_toml", "make_grid", "with_fields", "write_gpkg"]

CRS = "EPSG:4548"
#: Where the grid's centre goes in :data:`CRS`: 117°E 27.6°N, in 江西 (the submitting province 360000).
CENTRE = (500_000.0, 3_054_000.0)
#: quhua's marker id pattern widened to a six-digit sequence (the grid has up to 90,000 markers).
MARKER_ID_PATTERN = r"^(?P<line>\d{4})(?P<seq>\d{6})(?P<letter>[QABCDE])$"
#: make_synth.py's grid origin and cell size (metres, EPSG:32648).
X0, Y0, CELL = 500_000.0, 2_000_000.0, 1000.0
_OUTSIDE = {"west": "430000000", "east": "440000000", "south": "450000000", "north": "460000000"}


def config_toml() -> str:
    """A ``--config`` file for the grid: the defaults with :data:`MARKER_ID_PATTERN`."""
    return f"[markers]\nid_pattern = '{MARKER_ID_PATTERN}'\n"


def _cell_code(i: np.ndarray, j: np.ndarray, n: int, outside: np.ndarray) -> np.ndarray:
    inside = (i >= 0) & (i < n) & (j >= 0) & (j < n)
    own = np.char.add("36", np.char.zfill((i * n + j).clip(0).astype(str), 7))
    return np.where(inside, own, outside)


def _codes(geometries: np.ndarray, n: int, x0: float, y0: float) -> tuple[np.ndarray, np.ndarray]:
    """Left and right codes of each line: the two cells on either side of the grid edge nearest to the
    centre of its extent (a spur crossing an edge, a duplicate or a partial copy gets that edge's codes)."""
    bounds = shapely.bounds(geometries)
    gx = ((bounds[:, 0] + bounds[:, 2]) / 2 - x0) / CELL
    gy = ((bounds[:, 1] + bounds[:, 3]) / 2 - y0) / CELL
    horizontal = np.abs(gy - np.round(gy)) <= np.abs(gx - np.round(gx))
    # a horizontal edge on row r between columns c and c + 1 separates cells (c, r - 1) and (c, r)
    row, col = np.round(gy).astype(int), np.floor(gx).astype(int)
    h_a = _cell_code(col, row - 1, n, np.full(len(gx), _OUTSIDE["south"]))
    h_b = _cell_code(col, row, n, np.full(len(gx), _OUTSIDE["north"]))
    col_v, row_v = np.round(gx).astype(int), np.floor(gy).astype(int)
    v_a = _cell_code(col_v - 1, row_v, n, np.full(len(gx), _OUTSIDE["west"]))
    v_b = _cell_code(col_v, row_v, n, np.full(len(gx), _OUTSIDE["east"]))
    a, b = np.where(horizontal, h_a, v_a), np.where(horizontal, h_b, v_b)
    # a line outside the grid (make_synth's degenerate and isolated lines) borders the west and the south
    off = (gx < 0) & (gy < 0.5)
    a, b = np.where(off, _OUTSIDE["west"], a), np.where(off, _OUTSIDE["south"], b)
    low = a < b  # the smaller code on the left, as boundary_network orders them
    return np.where(low, a, b).astype(object), np.where(low, b, a).astype(object)


def _placed(geometries: np.ndarray, n: int) -> np.ndarray:
    """make_synth's metres moved so that the grid's centre is :data:`CENTRE` (a translation: every
    distance, angle and defect stays as it was)."""
    dx, dy = CENTRE[0] - (X0 + n * CELL / 2), CENTRE[1] - (Y0 + n * CELL / 2)
    return shapely.transform(geometries, lambda xy: xy + np.array([dx, dy]))


def with_fields(lines: gpd.GeoDataFrame, markers: gpd.GeoDataFrame, n: int
                ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """make_synth.py's grid of ``n`` × ``n`` cells (its lines and markers, EPSG:32648 metres) with quhua's
    fields, moved into 江西 in :data:`CRS` (:func:`_placed`); the ``defect`` column kept."""
    geometries = np.asarray(lines.geometry.values, dtype=object)
    left, right = _codes(geometries, n, X0, Y0)
    out_lines = gpd.GeoDataFrame({
        "line_id": [f"{k + 1:06d}" for k in range(len(lines))], "left_code": left, "right_code": right,
        "defect": lines["defect"].to_numpy(dtype=object) if "defect" in lines else None,
    }, geometry=_placed(geometries, n), crs=CRS)
    out_markers = gpd.GeoDataFrame({
        "marker_id": [f"3643{k + 1:06d}Q" for k in range(len(markers))], "marker_type": "单立",
        "defect": markers["defect"].to_numpy(dtype=object) if "defect" in markers else None,
    }, geometry=_placed(np.asarray(markers.geometry.values, dtype=object), n), crs=CRS)
    return out_lines, out_markers


def make_grid(n: int, verts_per_edge: int = 20, seed: int = 42) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """An ``n`` × ``n`` grid with make_synth.py's planted defects (at least 5 of each), built in code as
    make_synth.py builds it, then :func:`with_fields`."""
    rnd = random.Random(seed)

    def node(i, j):
        return X0 + i * CELL, Y0 + j * CELL

    def edge(a, b):
        (x1, y1), (x2, y2) = a, b
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy)
        nx, ny = -dy / length, dx / length
        points = [a]
        for k in range(1, verts_per_edge - 1):
            t, off = k / (verts_per_edge - 1), rnd.uniform(-5, 5)
            points.append((x1 + dx * t + nx * off, y1 + dy * t + ny * off))
        return [*points, b]

    lines = []
    for i in range(n + 1):
        for j in range(n + 1):
            if i < n:
                lines.append([edge(node(i, j), node(i + 1, j)), "ok"])
            if j < n:
                lines.append([edge(node(i, j), node(i, j + 1)), "ok"])
    n_def = max(5, len(lines) // 400)
    groups = np.array(rnd.sample(range(len(lines)), 6 * n_def)).reshape(6, n_def)
    extra = []
    for e in groups[0]:  # undershoot 0.5 m at the end
        c = lines[e][0]
        (xa, ya), (xb, yb) = c[-2], c[-1]
        length = math.hypot(xb - xa, yb - ya)
        lines[e] = [[*c[:-1], (xb - (xb - xa) / length * 0.5, yb - (yb - ya) / length * 0.5)], "undershoot_0.5m"]
    for e in groups[1]:
        extra.append([lines[e][0], "duplicate"])
    for e in groups[2]:
        extra.append([lines[e][0][3:9], "partial_overlap"])
    for e in groups[3]:  # a bow-tie loop inserted mid-line
        c = list(lines[e][0])
        m = len(c) // 2
        x, y = c[m]
        c[m:m + 1] = [(x, y), (x + 20, y + 20), (x + 20, y - 20), (x - 1, y + 1)]
        lines[e] = [c, "self_intersection"]
    for e in groups[4]:  # an edge split into two features
        c = lines[e][0]
        m = len(c) // 2
        lines[e] = [c[:m + 1], "pseudo_node_a"]
        extra.append([c[m:], "pseudo_node_b"])
    for e in groups[5]:  # a short spur crossing the edge
        g = shapely.LineString(lines[e][0])
        p, q = g.interpolate(0.37, normalized=True), g.interpolate(0.37 + 1e-3, normalized=True)
        dx, dy = q.x - p.x, q.y - p.y
        length = math.hypot(dx, dy)
        nx, ny = -dy / length, dx / length
        extra.append([[(p.x - nx * 5, p.y - ny * 5), (p.x + nx * 3, p.y + ny * 3)], "crossing_spur"])
    lines += extra
    geometries = [shapely.MultiLineString([c]) for c, _ in lines]
    geometries.append(shapely.MultiLineString([[(X0 - 50, Y0 - 50), (X0 - 50, Y0 - 50)]]))
    geometries.append(shapely.MultiLineString([[(X0 - 300, Y0), (X0 - 200, Y0)], [(X0 - 150, Y0), (X0 - 100, Y0)]]))
    defects = [d for _, d in lines] + ["degenerate", "multipart_isolated"]
    points = [[shapely.Point(X0 + i * CELL + rnd.uniform(-0.005, 0.005), Y0 + j * CELL + rnd.uniform(-0.005, 0.005)),
               "ok"] for i in range(n + 1) for j in range(n + 1)]
    for k in rnd.sample(range(len(points)), n_def):
        points.append([shapely.Point(points[k][0].x + 300, points[k][0].y + 300), "far_424m"])
    for k in rnd.sample(range(len(points) - n_def), n_def):
        points.append([shapely.Point(points[k][0].x, points[k][0].y), "duplicate_marker"])
    raw_lines = gpd.GeoDataFrame({"defect": defects}, geometry=geometries, crs="EPSG:32648")
    raw_markers = gpd.GeoDataFrame({"defect": [d for _, d in points]}, geometry=[p for p, _ in points],
                                   crs="EPSG:32648")
    return with_fields(raw_lines, raw_markers, n)


def write_gpkg(lines: gpd.GeoDataFrame, markers: gpd.GeoDataFrame, path) -> None:
    """The grid as one GeoPackage with layers ``lines`` and ``markers`` (what ``quhua check`` and the
    peers read)."""
    import pyogrio

    pyogrio.write_dataframe(lines, path, layer="lines", driver="GPKG")
    pyogrio.write_dataframe(markers, path, layer="markers", driver="GPKG", append=True)
